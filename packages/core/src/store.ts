import { batch } from '@preact/signals-core'
import { capTo } from './capped.ts'
import type { createEmitter } from './emitter.ts'
import { DeliveryFailedError, OutboxError } from './errors.ts'
import type { Persister } from './persister.ts'
import type { Entry, Queue } from './queue.ts'
import { toRecord } from './record.ts'
import type { DeliveryError, DropReason, EmitEnvelope, OutboxEvents, OutboxItem } from './types.ts'

/**
 * A settlement announced by the tab that sends, for the other tabs on the same key. Acks and
 * drops name the item only (the other tabs hold it, and it is most of a message's bytes); a
 * failure carries it whole, because it joins the failed list even in a tab that never saw it.
 */
export type RemoteNotice =
  | { kind: 'acked'; emitId: string; ack: Record<string, unknown> }
  | { kind: 'failed'; envelope: EmitEnvelope; error: DeliveryError; attempts: number }
  | { kind: 'dropped'; emitId: string; reason: DropReason }

/** How many recent acks `delivered()` and `status()` remember. */
export const ACK_MEMORY = 1024

const envelopeOf = (item: OutboxItem | EmitEnvelope): EmitEnvelope => {
  const envelope: EmitEnvelope = {
    emitId: item.emitId,
    event: item.event,
    payload: item.payload,
    lane: item.lane,
    createdAt: item.createdAt,
  }
  if (item.keys) envelope.keys = item.keys
  return envelope
}

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

/**
 * Every way an item settles, in one place: each transition updates the queue (signals), storage
 * (durable items only), the `delivered()` promises and the events, in that order.
 */
export function createStore(queue: Queue, events: ReturnType<typeof createEmitter<OutboxEvents>>) {
  let persister: Persister | null = null
  let announceSending: ((sent: Array<[emitId: string, attempts: number]>) => void) | undefined
  const acks = new Map<string, Record<string, unknown>>()
  const trimAcks = capTo(acks, ACK_MEMORY)
  const rememberAck = (emitId: string, ack: Record<string, unknown>) => {
    acks.set(emitId, ack)
    trimAcks()
  }
  /** Failed items that were never stored (non-durable): a retry keeps them out of storage. */
  const volatileFailed = new Set<string>()
  const waiters = new Map<
    string,
    Array<{ resolve: (ack: Record<string, unknown>) => void; reject: (e: Error) => void }>
  >()

  const settle = (emitId: string, outcome: { ack: Record<string, unknown> } | { error: Error }) => {
    const list = waiters.get(emitId)
    if (!list) return
    waiters.delete(emitId)
    for (const w of list) 'ack' in outcome ? w.resolve(outcome.ack) : w.reject(outcome.error)
  }

  const persist = (entry: Entry | undefined) => {
    if (entry?.policy.durable && persister) persister.put(entry.item.emitId, toRecord(entry))
  }
  /** `lazy` for acks: their deletes may wait for company (see LAZY_DELETE_MS). */
  const unpersist = (entry: Entry | undefined, lazy?: boolean) => {
    if (entry?.policy.durable && persister) persister.delete(entry.item.emitId, lazy)
  }

  return {
    envelopeOf,
    /** `onSending` tells other tabs what went in flight without writing it (see `sending`). */
    setPersister(p: Persister | null, onSending?: (sent: Array<[emitId: string, attempts: number]>) => void) {
      persister = p
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
      const told: Array<[string, number]> = []
      for (const { item } of sent) {
        const entry = queue.update(item.emitId, { status: 'sending', attempts: item.attempts + 1 })
        if (!entry?.policy.durable || !persister) continue
        if (persister.unwritten(item.emitId)) persist(entry)
        else told.push([item.emitId, entry.item.attempts])
      }
      if (told.length > 0) announceSending?.(told)
    },
    ack(emitId: string, ack: Record<string, unknown>) {
      const entry = queue.remove(emitId)
      if (!entry) return
      unpersist(entry, true)
      rememberAck(emitId, ack)
      settle(emitId, { ack })
      events.emit('outbox:acked', { envelope: envelopeOf(entry.item), ack })
    },
    fail(emitId: string, error: DeliveryError) {
      const entry = queue.get(emitId)
      const failed = queue.fail(emitId, error)
      if (!entry || !failed) return
      if (!entry.policy.durable) volatileFailed.add(emitId)
      else if (persister) persister.put(emitId, { ...toRecord(entry), item: failed })
      settle(emitId, { error: new DeliveryFailedError(emitId, error) })
      events.emit('outbox:failed', { envelope: envelopeOf(failed), error })
    },
    drop(emitId: string, reason: DropReason) {
      const entry = queue.remove(emitId) ?? undefined
      const failed = entry ? undefined : queue.removeFailed(emitId)
      const item = entry?.item ?? failed
      if (!item) return false
      if (entry) unpersist(entry)
      else if (!volatileFailed.delete(emitId)) persister?.delete(emitId)
      settle(emitId, { error: new DeliveryFailedError(emitId, dropError(reason)) })
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
    /**
     * Mirrors a settlement made by the tab that sends: the queue drops or fails the item without
     * touching storage (the sender already did), and this tab's promises and events follow.
     */
    applyRemote(notice: RemoteNotice) {
      if (notice.kind === 'acked') {
        const id = notice.emitId
        rememberAck(id, notice.ack)
        const item = queue.remove(id)?.item ?? queue.removeFailed(id)
        settle(id, { ack: notice.ack })
        // Events are for items this tab holds (it emitted them, or mirrors them from storage).
        if (item) events.emit('outbox:acked', { envelope: envelopeOf(item), ack: notice.ack })
      } else if (notice.kind === 'failed') {
        const { envelope } = notice
        const id = envelope.emitId
        if (queue.get(id)) queue.fail(id, notice.error)
        else if (!queue.failedItems.has(id))
          queue.addFailed({ ...envelope, status: 'failed', attempts: notice.attempts, error: notice.error })
        settle(id, { error: new DeliveryFailedError(id, notice.error) })
        events.emit('outbox:failed', { envelope, error: notice.error })
      } else {
        const id = notice.emitId
        const item = queue.remove(id)?.item ?? queue.removeFailed(id)
        if (!item) return
        settle(id, { error: new DeliveryFailedError(id, dropError(notice.reason)) })
        events.emit('outbox:dropped', { envelope: envelopeOf(item), reason: notice.reason })
      }
    },
    isAcked: (emitId: string) => acks.has(emitId),
    isVolatileFailed: (emitId: string) => volatileFailed.has(emitId),
    delivered(emitId: string): Promise<Record<string, unknown>> {
      const ack = acks.get(emitId)
      if (ack) return Promise.resolve(ack)
      const failed = queue.failedItems.get(emitId)
      if (failed) return Promise.reject(new DeliveryFailedError(emitId, failed.error))
      if (!queue.get(emitId))
        return Promise.reject(
          new OutboxError(
            `This outbox has no record of event ${emitId}: it was never emitted here, or was acked too long ago.`,
          ),
        )
      return new Promise((resolve, reject) => {
        const list = waiters.get(emitId)
        if (list) list.push({ resolve, reject })
        else waiters.set(emitId, [{ resolve, reject }])
      })
    },
    /** Rejects every `delivered()` still waiting (the outbox is closing or clearing). */
    rejectAll(error: Error) {
      for (const id of [...waiters.keys()]) settle(id, { error })
    },
    clear() {
      batch(() => queue.clear())
      acks.clear()
      volatileFailed.clear()
    },
  }
}

export type Store = ReturnType<typeof createStore>
