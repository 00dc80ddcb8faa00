import { computed, effect, type ReadonlySignal, type Signal } from '@preact/signals-core'
import type { Breaker } from './breaker.ts'
import type { Emitter } from './emitter.ts'
import { reportError } from './emitter.ts'
import { envelopeOf } from './envelope.ts'
import type { Queue } from './queue.ts'
import type { AuthState, OutboxEvents, OutboxState } from './types.ts'

export interface StateView {
  readonly state: ReadonlySignal<OutboxState>
  /** Svelte store contract: `run` is called at once, then once per tick of changes. */
  subscribe(run: (state: OutboxState) => void): () => void
  close(): void
}

/**
 * What the UI sees: the whole state as one signal, and one notification per tick however many
 * changes it held, to subscribers and to `outbox:update`.
 */
export function createStateView(ctx: {
  queue: Queue
  breaker: Breaker
  online: ReadonlySignal<boolean>
  paused: Signal<boolean>
  auth: ReadonlySignal<AuthState>
  events: Emitter<OutboxEvents>
}): StateView {
  const { queue, breaker, online, paused, auth, events } = ctx
  const state: ReadonlySignal<OutboxState> = computed(() => {
    const s: OutboxState = {
      pending: queue.pending.value,
      failed: queue.failed.value,
      size: queue.size.value,
      online: online.value,
      breaker: breaker.state.value,
      paused: paused.value,
      auth: auth.value,
    }
    const retryAt = breaker.retryAt.value
    if (retryAt !== undefined) s.breakerRetryAt = retryAt
    return s
  })

  const subscribers = new Set<(s: OutboxState) => void>()
  let notifyQueued = false
  const notify = () => {
    notifyQueued = false
    if (subscribers.size === 0 && !events.has('outbox:update')) return
    const s = state.peek()
    for (const run of subscribers) {
      try {
        run(s)
      } catch (error) {
        reportError(error)
      }
    }
    const head = s.pending[0]
    events.emit('outbox:update', head ? { size: s.size, head: envelopeOf(head) } : { size: s.size })
  }
  let first = true
  const stopWatching = effect(() => {
    queue.version.value
    online.value
    breaker.state.value
    breaker.retryAt.value
    paused.value
    auth.value
    if (first) first = false
    else if (!notifyQueued) {
      notifyQueued = true
      queueMicrotask(notify)
    }
  })

  return {
    state,
    subscribe(run) {
      run(state.value)
      subscribers.add(run)
      return () => void subscribers.delete(run)
    },
    close() {
      stopWatching()
      subscribers.clear()
    },
  }
}
