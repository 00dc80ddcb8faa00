import { isRetryable } from './ack.ts'
import type { Outcome } from './apply-once.ts'
import type { AckResult, Envelope, WireRejection } from './types.ts'

// The answers for each outcome of `applyOnce`, shared by the HTTP handler (status and headers) and
// the Socket.IO handler (the result alone).

const refusal = (emitId: string, code: string, retryable: boolean, message: string): WireRejection => ({
  ok: false,
  emitId,
  code,
  retryable,
  message,
})

/**
 * Seconds a client waits before retrying: a running `apply` usually settles within a second; a
 * store that cannot be reached (a Redis restart, a failover) takes longer to come back.
 */
const RETRY_AFTER = { 'in-progress': '1', unavailable: '2' } as const

/** The answer for one outcome, and the status it gets when it is the whole (single) response. */
export const answer = (emitId: string, outcome: Outcome): { status: number; result: AckResult } => {
  switch (outcome.kind) {
    case 'unavailable':
      return {
        status: 503,
        result: refusal(
          emitId,
          'unavailable',
          true,
          'The idempotency store could not be reached, so nothing was applied; retry after Retry-After.',
        ),
      }
    case 'applied':
    case 'replayed':
      return { status: 200, result: outcome.result }
    case 'in-progress':
      return {
        status: 409,
        result: refusal(
          emitId,
          'in-progress',
          true,
          'A request with this emitId is still being applied; retry shortly.',
        ),
      }
    case 'key-reused':
      return {
        status: 422,
        result: refusal(
          emitId,
          'key-reused',
          false,
          'This emitId was already used for a different event. Emit the new event to get a new emitId.',
        ),
      }
    case 'failed':
      return {
        status: 500,
        result: refusal(
          emitId,
          'internal',
          true,
          'The server failed while applying the event; it was not stored, so retry.',
        ),
      }
  }
}

/** True when later events of the same lane must wait: this one was not settled for good. */
export const blocksLane = (outcome: Outcome): boolean =>
  outcome.kind === 'in-progress' ||
  outcome.kind === 'failed' ||
  outcome.kind === 'unavailable' ||
  ('result' in outcome && isRetryable(outcome.result))

/** The headers of a whole response answering `kind`: `Retry-After` for 409 and 503. */
export const headersOf = (kind: Outcome['kind']): Record<string, string> =>
  kind === 'replayed'
    ? { 'idempotent-replayed': 'true' }
    : kind === 'in-progress' || kind === 'unavailable'
      ? { 'retry-after': RETRY_AFTER[kind] }
      : {}

/** The answer for an event of a batch that waits behind an unsettled one of its lane. */
export const laneBlocked = (emitId: string): WireRejection =>
  refusal(
    emitId,
    'lane-blocked',
    true,
    'An earlier event in this lane was not applied; this one waits to keep the order.',
  )

/**
 * Applies a batch in order, one envelope at a time: a lane's later events must not overtake one
 * that did not settle. Once the store cannot be reached, the rest of the batch does not wait on it
 * again. `unreachable`: nothing reached the store (a whole HTTP response is then a 503).
 */
export async function applyBatch(
  envelopes: readonly Envelope[],
  settle: (envelope: Envelope) => Promise<Outcome>,
): Promise<{ results: AckResult[]; unreachable: boolean }> {
  const blocked = new Set<string>()
  const results: AckResult[] = []
  let down = false
  let reached = false
  for (const envelope of envelopes) {
    if (blocked.has(envelope.lane)) {
      results.push(laneBlocked(envelope.emitId))
      continue
    }
    const outcome: Outcome = down ? { kind: 'unavailable' } : await settle(envelope)
    if (outcome.kind === 'unavailable') down = true
    else reached = true
    if (blocksLane(outcome)) blocked.add(envelope.lane)
    results.push(answer(envelope.emitId, outcome).result)
  }
  return { results, unreachable: down && !reached }
}

/** The store key of an envelope: its `emitId`, prefixed by its scope when there is one. */
export const scopedKey = (scope: string | undefined, emitId: string): string =>
  scope === undefined ? emitId : `${scope}:${emitId}`
