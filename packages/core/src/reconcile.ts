import { batch } from '@preact/signals-core'
import { capTo } from './capped.ts'
import type { GroupCommit } from './group-commit.ts'
import { isRecord } from './guards.ts'
import type { Queue } from './queue.ts'
import { checkRecord } from './record.ts'
import type { Settlement } from './settlement.ts'
import type { News } from './tab-channel.ts'
import type { DeliveryError, OutboxItem } from './types.ts'

/** How many settled emitIds a tab remembers, so a stale read of storage cannot revive them. */
const TOMBSTONES = 10_000

export interface Reconciler {
  /**
   * Brings the queue in step with stored records. The sender only adds what it lacks; followers
   * mirror. With `complete`, records are all of storage, so a follower also drops what is gone.
   * True when the sender found something no message had told it of.
   */
  merge(records: ReadonlyArray<readonly [string, unknown]>, complete: boolean): boolean
  /** Another tab wrote these records: apply them without reading storage again. */
  applyDelta(puts: ReadonlyArray<readonly [string, unknown]>, deletes: readonly string[]): void
  /** Remembers a settled emitId (acked or dropped), so no stale read brings it back. */
  bury(emitId: string): void
  /** The sender's news reached this follower: its settlements and what went in flight. */
  news(news: News): void
  /** A follower handed the sender a non-durable emit (typing): it joins the sender's queue. */
  adopt(record: unknown): boolean
  /** True while a follower applies the sender's news (its own events then are echoes). */
  mirroring(): boolean
}

/**
 * Reconciles this tab's queue with what storage holds and with what the other tabs say (the
 * sender's news, a follower's non-durable emits). Every change goes through the settlement
 * module; this one only decides which.
 */
export function createReconciler(
  queue: Queue,
  settlement: Settlement,
  commit: GroupCommit,
  isLeading: () => boolean,
  report: (error: DeliveryError) => void,
): Reconciler {
  const tombstones = new Set<string>()
  const trimTombstones = capTo(tombstones, TOMBSTONES)
  const bury = (id: string) => {
    tombstones.add(id)
    trimTombstones()
  }
  const reportedBad = new Set<string>()
  let mirroring = false

  const checked = (id: string, value: unknown) => {
    const result = checkRecord(id, value)
    if ('record' in result) return result.record
    if (!reportedBad.has(id))
      report({
        kind: 'storage',
        code: 'invalid-record',
        message: `Skipped stored record ${id}: ${result.reason}.`,
        retryable: false,
      })
    reportedBad.add(id)
    return undefined
  }

  /** One stored record against the queue; true when the sender learnt of it only now. */
  const mergeOne = (id: string, value: unknown, leading: boolean, seen: Set<string> | undefined): boolean => {
    const record = checked(id, value)
    if (!record) return false
    const { item } = record
    seen?.add(id)
    if (tombstones.has(id)) {
      // Settled, but still stored: its delete is on its way, or was lost (the sender that acked it
      // closed first, and this tab learnt of the ack from its notice). Delete it (again): else a
      // tab that opens later shows it pending for good.
      // Its delete's delta tells the other tabs: no need to count it as found.
      if (leading) commit.delete(id, true)
      return false
    }
    const entry = queue.get(id)
    if (item.status === 'failed') {
      if (entry && !leading) settlement.mirrorFailed(id, item.error)
      else if (!entry && !queue.failedItems.has(id)) {
        settlement.loadFailed(item)
        return leading
      }
      return false
    }
    if (entry) {
      if (!leading && !commit.unwritten(id)) {
        const { status, attempts, nextAttemptAt, lastError } = item
        settlement.mirror(id, { status, attempts, nextAttemptAt, lastError })
      }
      return false
    }
    if (queue.failedItems.has(id)) {
      if (leading) return false
      settlement.forget(id)
    }
    settlement.load(record, leading)
    return leading
  }

  const merge = (records: ReadonlyArray<readonly [string, unknown]>, complete: boolean): boolean => {
    const leading = isLeading()
    const seen = complete ? new Set<string>() : undefined
    let found = false
    for (const [rawKey, value] of records) found = mergeOne(String(rawKey), value, leading, seen) || found
    if (leading || !seen) return found
    // Durable items gone from storage were settled by the sender.
    for (const [id, entry] of queue.entries())
      if (entry.policy.durable && !seen.has(id) && !commit.unwritten(id)) settlement.forget(id)
    for (const id of [...queue.failedItems.keys()])
      if (!seen.has(id) && !commit.unwritten(id) && !settlement.isVolatileFailed(id)) settlement.forget(id)
    return false
  }

  return {
    merge,
    applyDelta(puts, deletes) {
      batch(() => {
        merge(puts, false)
        if (isLeading()) return
        for (const id of deletes) {
          if (commit.unwritten(id)) continue
          const entry = queue.get(id)
          if (entry?.policy.durable) settlement.forget(id)
          else if (!entry && !settlement.isVolatileFailed(id)) settlement.forget(id)
        }
      })
    },
    bury,
    news({ notices, sent }) {
      mirroring = true
      try {
        batch(() => {
          for (const notice of notices) {
            if (notice.kind !== 'failed') bury(notice.emitId) // even if this tab never saw it
            settlement.applyRemote(notice)
          }
          for (const [id, attempts] of sent)
            if (Number.isInteger(attempts) && queue.get(id) && !commit.unwritten(id))
              settlement.mirror(id, { status: 'sending', attempts })
        })
      } finally {
        mirroring = false
      }
    },
    adopt: (record) => adopt(queue, settlement, record),
    mirroring: () => mirroring,
  }
}

/** A follower's non-durable emit, handed to this tab (the sender): checked, then queued as it was. */
function adopt(queue: Queue, settlement: Settlement, record: unknown): boolean {
  const id = isRecord(record) && isRecord(record.item) ? String(record.item.emitId) : ''
  const checked = checkRecord(id, record)
  if (!('record' in checked) || queue.get(id) || checked.record.item.status === 'failed') return false
  const { item, coalesceKey, ttlMs, ageFrom } = checked.record
  settlement.add({
    item: item as OutboxItem,
    policy: { coalesceKey, ttlMs, durable: false, holdUntil: 0 },
    ageFrom: ageFrom ?? item.createdAt,
    failSeq: 0,
  })
  return true
}
