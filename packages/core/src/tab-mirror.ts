import { batch } from '@preact/signals-core'
import type { GroupCommit } from './group-commit.ts'
import type { Queue } from './queue.ts'
import type { Reconciler } from './reconcile.ts'
import { checkRecord, isRecord } from './record.ts'
import type { Settlement } from './settlement.ts'
import type { News } from './tab-channel.ts'
import type { OutboxItem } from './types.ts'

export interface TabMirror {
  /** The sender's news reached this follower: its settlements and what went in flight. */
  news(news: News): void
  /** A follower handed the sender a non-durable emit (typing): it joins the sender's queue. */
  adopt(record: unknown): boolean
  /** True while the follower applies the sender's news (its own events then are echoes). */
  mirroring(): boolean
}

/** What a tab does with the settlements and emits the other tabs tell it of. */
export function createTabMirror(ctx: {
  queue: Queue
  settlement: Settlement
  commit: GroupCommit
  reconciler: Reconciler
}): TabMirror {
  const { queue, settlement, commit, reconciler } = ctx
  let mirroring = false
  return {
    news({ notices, sent }) {
      mirroring = true
      try {
        batch(() => {
          for (const notice of notices) {
            if (notice.kind !== 'failed') reconciler.bury(notice.emitId) // even if this tab never saw it
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
    adopt(record) {
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
    },
    mirroring: () => mirroring,
  }
}
