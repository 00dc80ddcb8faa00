import type { AuthState, BreakerState, FailedItem, Outbox, OutboxItem, OutboxState } from '@outbox/core'
import type { Ref } from 'vue'
import { outboxVersion, view } from './outbox-version.ts'
import { resolveOutbox } from './plugin.ts'

export type UseOutboxReturn = {
  /** Pending items in emit order. */
  readonly pending: Readonly<Ref<readonly OutboxItem[]>>
  /** Items that failed terminally; each has `error.hint` for the UI. */
  readonly failed: Readonly<Ref<readonly FailedItem[]>>
  readonly size: Readonly<Ref<number>>
  readonly online: Readonly<Ref<boolean>>
  readonly breaker: Readonly<Ref<BreakerState>>
  /** `'required'` after a 401, until the app's `onUnauthorized` resolves or it resumes. */
  readonly auth: Readonly<Ref<AuthState>>
  /** The whole state, with `breakerRetryAt` ("retrying at …") and `paused`. */
  readonly state: Readonly<Ref<OutboxState>>
  readonly emit: Outbox['emit']
  readonly flush: Outbox['flush']
  readonly retry: Outbox['retry']
  readonly discard: Outbox['discard']
  readonly resume: Outbox['resume']
}

/**
 * The outbox's state as read-only refs, plus its methods. Without an argument it uses the outbox
 * provided by `outboxPlugin`; the subscription ends with the calling component or effect scope.
 */
export function useOutbox(outbox?: Outbox): UseOutboxReturn {
  const box = resolveOutbox(outbox, 'useOutbox')
  const version = outboxVersion(box, 'useOutbox')
  return {
    pending: view(version, () => box.pending.peek()),
    failed: view(version, () => box.failed.peek()),
    size: view(version, () => box.size.peek()),
    online: view(version, () => box.online.peek()),
    breaker: view(version, () => box.breaker.peek()),
    auth: view(version, () => box.auth.peek()),
    state: view(version, () => box.state.peek()),
    emit: (event, payload, options) => box.emit(event, payload, options),
    flush: () => box.flush(),
    retry: (emitId) => box.retry(emitId),
    discard: (emitId) => box.discard(emitId),
    resume: () => box.resume(),
  }
}
