import { isRetryable } from './ack.ts'
import type { Outcome } from './apply-once.ts'
import type { AckResult, WireRejection } from './types.ts'

// The same answers as `handler.ts` gives over HTTP, for transports without statuses (Socket.IO).
// Copied from there so the HTTP handler stays untouched while it is reworked; one should go.

const refusal = (emitId: string, code: string, retryable: boolean, message: string): WireRejection => ({
  ok: false,
  emitId,
  code,
  retryable,
  message,
})

/** The answer for one outcome of `applyOnce`. */
export function answerFor(emitId: string, outcome: Outcome): AckResult {
  switch (outcome.kind) {
    case 'applied':
    case 'replayed':
      return outcome.result
    case 'in-progress':
      return refusal(emitId, 'in-progress', true, 'A request with this emitId is still being applied; retry shortly.')
    case 'key-reused':
      return refusal(
        emitId,
        'key-reused',
        false,
        'This emitId was already used for a different event. Emit the new event to get a new emitId.',
      )
    case 'failed':
      return refusal(
        emitId,
        'internal',
        true,
        'The server failed while applying the event; it was not stored, so retry.',
      )
  }
}

/** True when later events of the same lane must wait: this one was not settled for good. */
export const blocksLane = (outcome: Outcome): boolean =>
  outcome.kind === 'in-progress' || outcome.kind === 'failed' || ('result' in outcome && isRetryable(outcome.result))

/** The answer for an event of a batch that waits behind an unsettled one of its lane. */
export const laneBlocked = (emitId: string): WireRejection =>
  refusal(
    emitId,
    'lane-blocked',
    true,
    'An earlier event in this lane was not applied; this one waits to keep the order.',
  )
