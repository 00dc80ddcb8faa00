import type { DeliveryError, RetryOptions } from './types.ts'

export type RetryPolicy = {
  baseMs: number
  maxMs: number
  factor: number
  jitter: boolean
  maxAttempts: number
  maxAgeMs: number
  hard: ReadonlySet<number>
}

const DEFAULT_HARD = [
  400, 402, 403, 404, 405, 406, 407, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 426, 428, 431,
  451, 501,
]

/**
 * Statuses that fail at once by default: every 4xx but 401, 408, 409, 425 and 429; plus 501. A 401
 * stops sending until the app signs in again (`onUnauthorized`) instead of failing items; list it
 * in `hardErrorCodes` to make it an ordinary hard error.
 */
export const defaultHardErrorCodes: readonly number[] = DEFAULT_HARD
const defaultHard: ReadonlySet<number> = new Set(DEFAULT_HARD)

/**
 * The one rule for HTTP statuses: a status is retried unless it is a hard error code. `classify`
 * applies it with the outbox's `hardErrorCodes`; a transport reports it with the defaults, for
 * callers that use the transport alone, and the outbox replaces that answer.
 */
export const isRetryableStatus = (status: number, hard: ReadonlySet<number> = defaultHard): boolean => !hard.has(status)

/** Fills in defaults once, so the hot path never checks for undefined. */
export function normalizeRetry(options: RetryOptions = {}): RetryPolicy {
  return {
    baseMs: options.baseMs ?? 400,
    maxMs: options.maxMs ?? 10_000,
    factor: options.factor ?? 2,
    jitter: options.jitter ?? true,
    maxAttempts: options.maxAttempts ?? Infinity,
    maxAgeMs: options.maxAgeMs ?? Infinity,
    hard: new Set(options.hardErrorCodes ?? DEFAULT_HARD),
  }
}

/** Wait after failure number `n` (1-based): `min(maxMs, baseMs * factor^(n-1))`, jittered ±25%. */
export function backoffMs(policy: RetryPolicy, n: number, random: () => number): number {
  const wait = Math.min(policy.maxMs, policy.baseMs * policy.factor ** Math.max(0, n - 1))
  return policy.jitter ? Math.round(wait * (0.75 + random() * 0.5)) : wait
}

const HINTS: Record<number, string> = {
  400: 'The server found the event malformed. Discard it, or fix the data and send it again.',
  401: 'Sign in again and retry.',
  403: 'You are not allowed to do this. Check your access, then retry.',
  404: 'The server has no endpoint for this event. Check the outbox URL.',
  413: 'The event is too large for the server. Send less data.',
  422: 'The server saw this event before with other content. Discard it, or send it again as a new event.',
  501: 'The server does not support this event yet. Update the app or discard it.',
}

/** The hint a UI can show for a terminal failure. */
export function hintFor(error: DeliveryError): string {
  if (error.hint) return error.hint
  if (error.kind === 'http' && typeof error.code === 'number')
    return HINTS[error.code] ?? 'The server refused this event. Retry later, or discard it.'
  if (error.kind === 'expired') return 'The event was too old to send. Send it again if it still matters.'
  if (error.kind === 'rejected') return 'The server refused this event. Retry after fixing the cause, or discard it.'
  if (error.kind === 'invalid-ack')
    return 'The server kept answering with something that is not an ack. Check the endpoint.'
  return 'Delivery kept failing. Retry when the connection is better, or discard it.'
}

/**
 * Where an outbox decides whether an HTTP status is retried: its `hardErrorCodes` replace what the
 * transport reported. Other kinds keep the transport's verdict (an answer that is not an ack
 * because the server speaks another protocol stays terminal).
 */
export function classify(policy: RetryPolicy, error: DeliveryError): DeliveryError {
  if (error.kind !== 'http' || typeof error.code !== 'number') return error
  const retryable = isRetryableStatus(error.code, policy.hard)
  return retryable === error.retryable ? error : { ...error, retryable }
}

export type RetryDecision = { retry: true; waitMs: number } | { retry: false; error: DeliveryError }

/**
 * Decides what happens to an item after a failed attempt, as an ordered list of early exits:
 * terminal errors fail, exhausted attempts fail, items too old at their next turn expire,
 * everything else waits (`Retry-After` when the server sent one, backoff otherwise).
 */
export function decideRetry(
  policy: RetryPolicy,
  attempt: { attempts: number; ageMs: number },
  error: DeliveryError,
  retryAfterMs: number | undefined,
  random: () => number,
): RetryDecision {
  if (!error.retryable) return { retry: false, error: { ...error, hint: hintFor(error) } }
  if (attempt.attempts >= policy.maxAttempts) {
    const gaveUp = {
      ...error,
      retryable: false,
      message: `Gave up after ${attempt.attempts} attempts: ${error.message}`,
    }
    return { retry: false, error: { ...gaveUp, hint: hintFor(gaveUp) } }
  }
  const waitMs = retryAfterMs ?? backoffMs(policy, attempt.attempts, random)
  if (attempt.ageMs + waitMs >= policy.maxAgeMs) return { retry: false, error: expiredError(policy.maxAgeMs) }
  return { retry: true, waitMs }
}

/** The error of an item older than `maxAgeMs`. */
export function expiredError(maxAgeMs: number): DeliveryError {
  const error: DeliveryError = {
    kind: 'expired',
    message: `Not delivered within ${maxAgeMs} ms (retry.maxAgeMs).`,
    retryable: false,
  }
  return { ...error, hint: hintFor(error) }
}
