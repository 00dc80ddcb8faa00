import type { DeliveryStatus, Outbox, OutboxItem } from '@outbox/core'
import { getOutbox } from './context.ts'
import { fromSignal, type SignalStore } from './from-signal.ts'

/**
 * One item's delivery status by `emitId`, for per-message ticks: `'queued'`, `'sending'`,
 * `'waiting'`, `'failed'`, `'delivered'`, or `'unknown'` for an id the outbox has not seen.
 * Without `outbox`, uses the one from `setOutbox` (so call it during component initialisation).
 */
export function deliveryStatus(emitId: string, outbox: Outbox = getOutbox()): SignalStore<DeliveryStatus> {
  return fromSignal(outbox.status(emitId))
}

/**
 * The pending items of one lane (one chat), in emit order.
 * Without `outbox`, uses the one from `setOutbox` (so call it during component initialisation).
 */
export function laneItems(lane: string, outbox: Outbox = getOutbox()): SignalStore<readonly OutboxItem[]> {
  return fromSignal(outbox.lane(lane))
}
