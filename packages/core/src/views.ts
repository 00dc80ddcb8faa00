import { computed, type ReadonlySignal } from '@preact/signals-core'
import { laneIds } from './lanes.ts'
import type { Queue } from './queue.ts'
import type { Settlement } from './settlement.ts'
import type { DeliveryStatus, OutboxItem } from './types.ts'

/** One item's delivery status as a signal: queued, sending, waiting, failed, delivered or unknown. */
export function statusView(queue: Queue, settlement: Settlement, emitId: string): ReadonlySignal<DeliveryStatus> {
  return computed(() => {
    queue.version.value
    const entry = queue.get(emitId)
    if (entry) return entry.item.status
    if (queue.failedItems.has(emitId)) return 'failed'
    return settlement.isAcked(emitId) ? 'delivered' : 'unknown'
  })
}

/** One lane's pending items as a signal; the same array while the lane is unchanged. */
export function laneView(queue: Queue, name: string): ReadonlySignal<readonly OutboxItem[]> {
  let last: readonly OutboxItem[] = []
  return computed(() => {
    queue.version.value
    const items = laneIds(queue.lanes, name)
      .map((id) => queue.get(id)?.item)
      .filter((i): i is OutboxItem => i !== undefined)
    // Unchanged lane, same array: a chat view does not re-render for other chats' traffic.
    if (items.length === last.length && items.every((item, i) => item === last[i])) return last
    return (last = items)
  })
}
