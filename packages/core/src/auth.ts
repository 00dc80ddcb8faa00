import { type ReadonlySignal, signal } from '@preact/signals-core'
import type { Emitter } from './emitter.ts'
import type { AuthState, EmitEnvelope, OutboxEvents } from './types.ts'

/** Sign-in state: a 401 stops sending on every lane until the app refreshes credentials. */
export interface Auth {
  readonly state: ReadonlySignal<AuthState>
  /** The server answered 401 for `envelope`: starts an episode unless one is under way. */
  required(envelope: EmitEnvelope): void
  /** Sending may go on (`resume()`, `flush()`, a refresh that resolved). */
  ok(): void
}

/**
 * One episode per 401: `auth` turns `'required'`, `outbox:unauthorized` fires and
 * `onUnauthorized()` is called once; when it resolves, `resumed` is called. Never persisted.
 */
export function createAuth(
  events: Emitter<OutboxEvents>,
  onUnauthorized: (() => unknown) | undefined,
  resumed: () => void,
): Auth {
  const state = signal<AuthState>('ok')
  let episode = 0
  const ok = () => {
    if (state.peek() === 'ok') return
    state.value = 'ok'
    resumed()
  }
  return {
    state,
    required(envelope) {
      if (state.peek() === 'required') return
      state.value = 'required'
      const current = ++episode
      events.emit('outbox:unauthorized', { envelope })
      if (!onUnauthorized) return
      // A refresh that resolves after the app resumed by hand, or after a later episode began, changes nothing.
      new Promise((resolve) => resolve(onUnauthorized())).then(
        () => current === episode && ok(),
        // The app's refresh failed and the app knows it: sending waits for resume() or flush().
        () => {},
      )
    },
    ok,
  }
}
