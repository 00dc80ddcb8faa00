import { type OutboxState, outboxKey } from '@outbox/vue'
import { inject, onScopeDispose, type Ref, shallowRef } from 'vue'
import type { Readable } from '../store.ts'

/**
 * A store (`subscribe(run)`) as a shallow ref, released with the calling scope. Not `readonly()`:
 * that would wrap values such as an outbox in deep proxies and break the signals inside.
 */
export function useStore<T>(store: Readable<T>): Readonly<Ref<T>> {
  const value = shallowRef() as Ref<T>
  onScopeDispose(store.subscribe((next) => (value.value = next)))
  return value
}

/**
 * The whole `OutboxState` of the provided outbox, for what `useOutbox()` does not return
 * (`breakerRetryAt`, `paused`). An outbox follows the store contract, so `useStore` reads it.
 */
export function useOutboxState(): Readonly<Ref<OutboxState>> {
  const outbox = inject(outboxKey)
  if (!outbox) throw new Error('useOutboxState() needs an outbox provided under outboxKey.')
  return useStore(outbox)
}
