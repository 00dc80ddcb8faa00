import { isRecord } from './guards.ts'
import type { Entry } from './queue.ts'
import { isDeliveryError } from './record.ts'
import { classify, decideRetry, type RetryPolicy } from './retry.ts'
import type { DeliveryError, DeliveryResult } from './types.ts'

/**
 * What happens to one item after a transport call: the step of the data path between the
 * transport and settlement.
 * - `ack`: delivered.
 * - `retry`: waits `waitMs` (a backoff, or the server's `Retry-After` when `retryAfter`).
 * - `fail`: terminal, with a reason and a hint.
 * - `sign-in`: the server wants new credentials (401, unless listed in `hardErrorCodes`): the item
 *   keeps its place and its attempts, and sending stops until the app signs in again.
 */
export type Verdict =
  | { kind: 'ack'; ack: Record<string, unknown> }
  | { kind: 'retry'; error: DeliveryError; waitMs: number; retryAfter: boolean }
  | { kind: 'fail'; error: DeliveryError }
  | { kind: 'sign-in'; error: DeliveryError }

/** Trusts nothing a transport returns: a malformed result counts as an invalid ack. */
const validResult = (r: unknown): r is DeliveryResult =>
  isRecord(r) &&
  typeof r.emitId === 'string' &&
  ((r.ok === true && isRecord(r.ack)) ||
    (r.ok === false &&
      isDeliveryError(r.error) &&
      (r.retryAfterMs === undefined || (typeof r.retryAfterMs === 'number' && r.retryAfterMs >= 0))))

/**
 * The result for each sent item, by emitId: what the transport returned (validated), a network
 * error for every item when it threw, and an invalid ack for an item it said nothing valid about.
 */
export function resultsOf(
  sent: readonly Entry[],
  returned: unknown,
  thrown: unknown,
): Array<[entry: Entry, result: DeliveryResult]> {
  const byId = new Map<string, DeliveryResult>()
  if (Array.isArray(returned)) for (const r of returned) if (validResult(r)) byId.set(r.emitId, r)
  const networkError: DeliveryError | undefined =
    thrown === undefined
      ? undefined
      : { kind: 'network', message: thrown instanceof Error ? thrown.message : String(thrown), retryable: true }
  return sent.map((entry) => {
    const emitId = entry.item.emitId
    const result: DeliveryResult = networkError
      ? { emitId, ok: false, error: networkError }
      : (byId.get(emitId) ?? {
          emitId,
          ok: false,
          error: {
            kind: 'invalid-ack',
            message: 'The transport returned no valid result for this event.',
            retryable: true,
          },
        })
    return [entry, result]
  })
}

const signInNeeded = (error: DeliveryError) => error.kind === 'http' && error.code === 401 && error.retryable

/**
 * True when the server itself answered (an ack, a terminal refusal, a 401): it is up, whatever
 * became of the item. The breaker counts calls without such an answer.
 */
export function serverAnswered(policy: RetryPolicy, result: DeliveryResult): boolean {
  if (result.ok) return true
  const error = classify(policy, result.error)
  return !error.retryable || signInNeeded(error)
}

/** Classifies one result for the item as it stands now (its attempts and age). */
export function verdictOf(
  policy: RetryPolicy,
  entry: Entry,
  result: DeliveryResult,
  now: number,
  random: () => number,
): Verdict {
  if (result.ok) return { kind: 'ack', ack: result.ack }
  const error = classify(policy, result.error)
  if (signInNeeded(error)) return { kind: 'sign-in', error }
  const decision = decideRetry(
    policy,
    { attempts: entry.item.attempts, ageMs: now - entry.ageFrom },
    error,
    result.retryAfterMs,
    random,
  )
  if (!decision.retry) return { kind: 'fail', error: decision.error }
  return { kind: 'retry', error, waitMs: decision.waitMs, retryAfter: result.retryAfterMs !== undefined }
}
