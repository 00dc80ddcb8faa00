import { batch } from '@preact/signals-core'
import { storedPolicy } from './coalesce.ts'
import { createDeliveryPromises, type DeliveryPromises } from './delivery-promises.ts'
import type { Emitter } from './emitter.ts'
import { envelopeOf } from './envelope.ts'
import type { GroupCommit } from './group-commit.ts'
import type { Entry, Queue } from './queue.ts'
import { type StoredRecord, toRecord } from './record.ts'
import type { DeliveryError, DropReason, EmitEnvelope, FailedItem, OutboxEvents, OutboxItem } from './types.ts'

/**
 * A settlement announced by the tab that sends, for the other tabs on the same key. Acks and
 * drops name the item only (the other tabs hold it, and it is most of a message's bytes); a
 * failure carries it whole, because it joins the failed list even in a tab that never saw it.
 */
export type RemoteNotice =
  | { kind: 'acked'; emitId: string; ack: Record<string, unknown> }
  | { kind: 'failed'; envelope: EmitEnvelope; error: DeliveryError; attempts: number }
  | { kind: 'dropped'; emitId: string; reason: DropReason }

const dropError = (reason: DropReason): DeliveryError => ({
  kind: 'rejected',
  code: reason,
  message:
    reason === 'discarded'
      ? 'Discarded before delivery.'
      : reason === 'stale'
        ? 'Dropped unsent: older than its ttlMs.'
        : 'Replaced by a newer event with the same coalesceKey.',
  retryable: false,
})

/** An item's sending status as another tab reported it: `[emitId, attempts]`. */
export type SentNotice = [emitId: string, attempts: number]

/**
 * The one writer of item transitions. The scheduler, the public methods and persistence all ask
 * it; nothing else edits the queue. Methods come in two kinds: settlements this outbox makes (they
 * update the queue, storage for durable items, the `delivered()` promises and the events, in that
 * order), and mirrors of what storage or the sending tab already holds (the queue only).
 */
export interface Settlement {
  /** Connects storage (persistent mode); `onSending` tells other tabs what went in flight. */
  setStorage(commit: GroupCommit | null, onSending?: (sent: SentNotice[]) => void): void
  /** A new item (an emit, or a non-durable one another tab handed over). */
  add(entry: Entry): void
  /** Retry bookkeeping of a pending item (status, attempts, next attempt). */
  update(emitId: string, patch: Partial<OutboxItem>, meta?: Partial<Entry>): void
  /** Items go in flight. */
  sending(sent: readonly Entry[]): void
  ack(emitId: string, ack: Record<string, unknown>): void
  fail(emitId: string, error: DeliveryError): void
  drop(emitId: string, reason: DropReason): boolean
  /** Moves a failed item back into its lane with the same emitId and a fresh attempt budget. */
  retry(emitId: string, now: number): void
  /** Mirrors a settlement the sending tab made (it already wrote storage). */
  applyRemote(notice: RemoteNotice): void
  /** A pending record read from storage joins the queue; `asSender` re-queues one stored mid-flight. */
  load(record: StoredRecord, asSender: boolean): void
  /** A failed record read from storage joins the failed list. */
  loadFailed(item: FailedItem): void
  /** A follower mirrors the sender's bookkeeping of a pending item (storage or a tab message). */
  mirror(emitId: string, patch: Partial<OutboxItem>): void
  /** A follower mirrors the sender's failure of a pending item, read back from storage. */
  mirrorFailed(emitId: string, error: DeliveryError): void
  /** A follower forgets a pending or failed item the sender settled and deleted from storage. */
  forget(emitId: string): void
  /** Taking over as sender: what the last one had in flight goes again. */
  requeueInFlight(): void
  isAcked(emitId: string): boolean
  isVolatileFailed(emitId: string): boolean
  delivered(emitId: string): Promise<Record<string, unknown>>
  /** Rejects every `delivered()` still waiting (the outbox is closing or clearing). */
  rejectAll(error: Error): void
  clear(): void
}

export function createSettlement(queue: Queue, events: Emitter<OutboxEvents>): Settlement {
  let storage: GroupCommit | null = null
  let announceSending: ((sent: SentNotice[]) => void) | undefined
  const promises = createDeliveryPromises(queue)
  /** Failed items that were never stored (non-durable): a retry keeps them out of storage. */
  const volatileFailed = new Set<string>()

  const persist = (entry: Entry | undefined) => {
    if (entry?.policy.durable && storage) storage.put(entry.item.emitId, toRecord(entry))
  }
  /** `lazy` for acks: their deletes may wait for company (see LAZY_DELETE_MS). */
  const unpersist = (entry: Entry | undefined, lazy?: boolean) => {
    if (entry?.policy.durable && storage) storage.delete(entry.item.emitId, lazy)
  }

  return {
    setStorage(commit, onSending) {
      storage = commit
      announceSending = onSending
    },
    add(entry: Entry) {
      queue.add(entry)
      persist(entry)
    },
    update(emitId: string, patch: Partial<OutboxItem>, meta?: Partial<Entry>) {
      persist(queue.update(emitId, patch, meta))
    },
    /**
     * Items go in flight. Storage is not rewritten for it: a stored item that was in flight when
     * the page died was not acked, so it loads as pending and goes again under its emitId either
     * way, and skipping the rewrite saves one put per delivered item. Other tabs are told. (An item
     * whose first write is not yet committed is written again with its new status instead, so
     * other tabs, which learn of it from that write, see the status after it.)
     */
    sending(sent: readonly Entry[]) {
      const told: SentNotice[] = []
      for (const { item } of sent) {
        const entry = queue.update(item.emitId, { status: 'sending', attempts: item.attempts + 1 })
        if (!entry?.policy.durable || !storage) continue
        if (storage.unwritten(item.emitId)) persist(entry)
        else told.push([item.emitId, entry.item.attempts])
      }
      if (told.length > 0) announceSending?.(told)
    },
    ack(emitId: string, ack: Record<string, unknown>) {
      const entry = queue.remove(emitId)
      if (!entry) return
      unpersist(entry, true)
      promises.acked(emitId, ack)
      events.emit('outbox:acked', { envelope: envelopeOf(entry.item), ack })
    },
    fail(emitId: string, error: DeliveryError) {
      const entry = queue.get(emitId)
      const failed = queue.fail(emitId, error)
      if (!entry || !failed) return
      if (!entry.policy.durable) volatileFailed.add(emitId)
      else if (storage) storage.put(emitId, { ...toRecord(entry), item: failed })
      promises.failed(emitId, error)
      events.emit('outbox:failed', { envelope: envelopeOf(failed), error })
    },
    drop(emitId: string, reason: DropReason) {
      const entry = queue.remove(emitId) ?? undefined
      const failed = entry ? undefined : queue.removeFailed(emitId)
      const item = entry?.item ?? failed
      if (!item) return false
      if (entry) unpersist(entry)
      else if (!volatileFailed.delete(emitId)) storage?.delete(emitId)
      promises.failed(emitId, dropError(reason))
      events.emit('outbox:dropped', { envelope: envelopeOf(item), reason })
      return true
    },
    /** Moves a failed item back into its lane with the same emitId and a fresh attempt budget. */
    retry(emitId: string, now: number) {
      const failed = queue.removeFailed(emitId)
      if (!failed) return
      const durable = !volatileFailed.delete(emitId)
      const { status: _s, error, ...rest } = failed
      const entry: Entry = {
        item: { ...rest, status: 'queued', attempts: 0, lastError: error },
        policy: { coalesceKey: undefined, ttlMs: undefined, durable, holdUntil: 0 },
        ageFrom: now,
        failSeq: 0,
      }
      queue.add(entry)
      persist(entry)
    },
    ...createMirror(queue, events, promises),
    isAcked: promises.isAcked,
    isVolatileFailed: (emitId: string) => volatileFailed.has(emitId),
    delivered: promises.delivered,
    rejectAll: promises.rejectAll,
    clear() {
      batch(() => queue.clear())
      promises.clear()
      volatileFailed.clear()
    },
  }
}

/**
 * The mirror half of the settlement module: what storage or the sending tab already holds joins
 * this tab's queue, without writing storage again.
 */
function createMirror(
  queue: Queue,
  events: Emitter<OutboxEvents>,
  promises: DeliveryPromises,
): Pick<Settlement, 'applyRemote' | 'load' | 'loadFailed' | 'mirror' | 'mirrorFailed' | 'forget' | 'requeueInFlight'> {
  return {
    /**
     * Mirrors a settlement made by the tab that sends: the queue drops or fails the item without
     * touching storage (the sender already did), and this tab's promises and events follow.
     */
    applyRemote(notice: RemoteNotice) {
      if (notice.kind === 'acked') {
        const id = notice.emitId
        promises.acked(id, notice.ack) // before the queue changes: status() then reads delivered
        const item = queue.remove(id)?.item ?? queue.removeFailed(id)
        // Events are for items this tab holds (it emitted them, or mirrors them from storage).
        if (item) events.emit('outbox:acked', { envelope: envelopeOf(item), ack: notice.ack })
      } else if (notice.kind === 'failed') {
        const { envelope } = notice
        const id = envelope.emitId
        if (queue.get(id)) queue.fail(id, notice.error)
        else if (!queue.failedItems.has(id))
          queue.addFailed({ ...envelope, status: 'failed', attempts: notice.attempts, error: notice.error })
        promises.failed(id, notice.error)
        events.emit('outbox:failed', { envelope, error: notice.error })
      } else {
        const id = notice.emitId
        const item = queue.remove(id)?.item ?? queue.removeFailed(id)
        if (!item) return
        promises.failed(id, dropError(notice.reason))
        events.emit('outbox:dropped', { envelope: envelopeOf(item), reason: notice.reason })
      }
    },
    load(record, asSender) {
      const { item } = record
      queue.add({
        // An item stored mid-flight was not acked: it goes again, under the same emitId.
        item: asSender && item.status === 'sending' ? { ...item, status: 'queued' } : (item as OutboxItem),
        policy: storedPolicy(record.coalesceKey, record.ttlMs),
        ageFrom: record.ageFrom ?? item.createdAt,
        failSeq: 0,
      })
    },
    loadFailed: (item) => queue.addFailed(item),
    mirror(emitId, patch) {
      queue.update(emitId, patch)
    },
    mirrorFailed(emitId, error) {
      queue.fail(emitId, error)
    },
    forget(emitId) {
      queue.remove(emitId) ?? queue.removeFailed(emitId)
    },
    requeueInFlight() {
      batch(() => {
        for (const [id, entry] of queue.entries())
          if (entry.item.status === 'sending') queue.update(id, { status: 'queued' })
      })
    },
  }
}
