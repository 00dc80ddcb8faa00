import type { DeliveryStatus, Outbox, OutboxItem } from '@outbox/core'
import { computed, type MaybeRefOrGetter, type Ref, toValue } from 'vue'
import { outboxVersion, view } from './outbox-version.ts'
import { resolveOutbox } from './plugin.ts'

/**
 * One item's delivery status (`'queued' | 'sending' | 'waiting' | 'failed' | 'delivered' | 'unknown'`)
 * as a read-only ref, for a per-message tick. `emitId` may be a ref or getter, e.g. `() => props.emitId`.
 */
export function useDeliveryStatus(emitId: MaybeRefOrGetter<string>, outbox?: Outbox): Readonly<Ref<DeliveryStatus>> {
  const box = resolveOutbox(outbox, 'useDeliveryStatus')
  const version = outboxVersion(box, 'useDeliveryStatus')
  const status = computed(() => box.status(toValue(emitId)))
  return view(version, () => status.value.peek())
}

/** The pending items of one lane (one chat), in emit order, as a read-only ref. `lane` may be a ref or getter. */
export function useLane(lane: MaybeRefOrGetter<string>, outbox?: Outbox): Readonly<Ref<readonly OutboxItem[]>> {
  const box = resolveOutbox(outbox, 'useLane')
  const version = outboxVersion(box, 'useLane')
  const items = computed(() => box.lane(toValue(lane)))
  return view(version, () => items.value.peek())
}
