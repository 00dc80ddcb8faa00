import { isRecord } from './guards.ts'
import type { AckResult, ApplyResult, Rejection } from './types.ts'

/**
 * Builds the rejection `apply` returns to refuse an event, e.g.
 * `return reject('forbidden', { hint: 'Sign in again.' })`. The client fails the item, or retries
 * it when `retryable` is true. Non-retryable rejections are remembered like acks.
 */
export function reject(code: string | number, options: Omit<Rejection, 'ok' | 'code'> = {}): Rejection {
  return { ok: false, code, ...options }
}

/** True for a rejection, as `apply` returns it or as the wire carries it. */
export const isRejection = (value: unknown): value is Rejection => isRecord(value) && value.ok === false

/** True when the client retries this answer: a rejection marked `retryable: true`. */
export const isRetryable = (result: AckResult): boolean => result.ok === false && result.retryable === true

/**
 * Turns what `apply` returned into the wire answer for `emitId`: `{ ok: true, emitId, ...ids }` or
 * `{ ok: false, emitId, code, ... }`. Throws TypeError for anything else, or for data JSON cannot
 * carry, so a programming error surfaces as a 500 instead of a malformed ack.
 */
export function toAckResult(emitId: string, value: ApplyResult): AckResult {
  if (value === undefined) return { ok: true, emitId }
  if (!isRecord(value))
    throw new TypeError(`apply must return an object of ids, a rejection or nothing; it returned ${typeof value}.`)
  // The ack names its own event: `ok` and `emitId` from apply cannot override it.
  const { ok, emitId: _ignored, ...rest } = value as Record<string, unknown>
  let result: AckResult
  if (ok === false) {
    const code = rest.code
    if (typeof code !== 'string' && typeof code !== 'number')
      throw new TypeError('A rejection from apply needs a string or number code, e.g. reject("forbidden").')
    result = { ok: false, emitId, ...rest, code }
  } else result = { ok: true, emitId, ...rest }
  // A round trip makes the first answer and every replay byte-for-byte the same data.
  return JSON.parse(JSON.stringify(result)) as AckResult
}
