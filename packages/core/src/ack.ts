import { isRecord } from './guards.ts'
import type { DeliveryError, DeliveryResult, EmitEnvelope } from './types.ts'

/** A 2xx answer as an `ack` reads it: `body` is the parsed JSON, or undefined when empty or not JSON. */
export type HttpAnswer = { status: number; headers: Headers; body: unknown }
/** Reads an answer of the app's own API: the ack's fields, or undefined when it is not an ack. */
export type AckReader = (answer: HttpAnswer, envelope: EmitEnvelope) => Record<string, unknown> | undefined

/** The same failure for every envelope of a call (a `Retry-After` wait with it, when the server sent one). */
export const failAll = (
  envelopes: readonly EmitEnvelope[],
  error: DeliveryError,
  retryAfterMs?: number,
): DeliveryResult[] =>
  envelopes.map((e) =>
    retryAfterMs === undefined
      ? { emitId: e.emitId, ok: false, error }
      : { emitId: e.emitId, ok: false, error, retryAfterMs },
  )

const invalid = (emitId: string, message: string, hint?: string): DeliveryResult => {
  // Retried unless there is a hint: a hint says why trying again cannot help.
  const error: DeliveryError = { kind: 'invalid-ack', message, retryable: !hint }
  if (hint) error.hint = hint
  return { emitId, ok: false, error }
}

const NOT_JSON = 'The server answered with something that is not a JSON ack.'
/** One hint for every answer no retry can turn into an ack: the transport is set up for another API. */
export const MAPPING_HINT = "Describe the server's API with httpTransport's request and ack options."

/** Whether a JSON answer is in the outbox's shape at all (a boolean `ok`, or `results`). */
const outboxShaped = (body: unknown) => isRecord(body) && (typeof body.ok === 'boolean' || 'results' in body)

/** A JSON answer from a server that speaks another protocol. */
const otherProtocol = (emitId: string): DeliveryResult =>
  invalid(emitId, 'The server answered with JSON that is not an outbox ack.', MAPPING_HINT)

/**
 * Reads one ack: `{ ok: true, emitId, ...ids }` for this envelope, or `{ ok: false, code,
 * retryable?, message?, hint? }`. An answer that is not JSON, or in this shape but not for this
 * envelope, is retried as `invalid-ack`; JSON of another shape fails at once.
 */
export function readAck(emitId: string, body: unknown): DeliveryResult {
  if (body === undefined) return invalid(emitId, NOT_JSON)
  if (!outboxShaped(body)) return otherProtocol(emitId)
  const answer = body as Record<string, unknown>
  if (answer.ok === true) {
    if (answer.emitId !== emitId) return invalid(emitId, `The ack names another event (${String(answer.emitId)}).`)
    return { emitId, ok: true, ack: answer }
  }
  if (answer.ok === false && (typeof answer.code === 'string' || typeof answer.code === 'number')) {
    if (answer.emitId !== undefined && answer.emitId !== emitId)
      return invalid(emitId, `The rejection names another event (${String(answer.emitId)}).`)
    const error: DeliveryError = {
      kind: 'rejected',
      code: answer.code,
      message: typeof answer.message === 'string' ? answer.message : `The server rejected the event (${answer.code}).`,
      retryable: answer.retryable === true,
    }
    if (typeof answer.hint === 'string') error.hint = answer.hint
    return { emitId, ok: false, error }
  }
  return invalid(emitId, 'The server answered 2xx without a valid ack ({ ok: true, emitId }).')
}

/**
 * Matches a batch answer `{ results: [...] }` to the envelopes sent: by `emitId`, or by position for
 * rejections that carry none when the lengths agree. Envelopes left unmatched are retried.
 */
export function readBatchAcks(envelopes: readonly EmitEnvelope[], body: unknown): DeliveryResult[] {
  if (body !== undefined && !outboxShaped(body)) return envelopes.map((e) => otherProtocol(e.emitId))
  const results = isRecord(body) && Array.isArray(body.results) ? body.results : undefined
  if (!results)
    return envelopes.map((e) => invalid(e.emitId, 'The server answered the batch without a { results: [...] } list.'))
  const byId = new Map<string, unknown>()
  for (const r of results) if (isRecord(r) && typeof r.emitId === 'string' && !byId.has(r.emitId)) byId.set(r.emitId, r)
  const sameLength = results.length === envelopes.length
  return envelopes.map((e, i) => {
    const r =
      byId.get(e.emitId) ??
      (sameLength && isRecord(results[i]) && results[i].emitId === undefined ? results[i] : undefined)
    return r === undefined ? invalid(e.emitId, 'The batch answer has no result for this event.') : readAck(e.emitId, r)
  })
}

/**
 * The default `ack` with `request`: a JSON object is the ack's fields, any other JSON value is
 * `{ body }`, an empty 2xx (204, 205, `Content-Length: 0`) is `{}`; anything else is no ack.
 */
export const restAck: AckReader = ({ status, headers, body }) => {
  if (body !== undefined) return isRecord(body) ? body : { body }
  return status === 204 || status === 205 || headers.get('content-length') === '0' ? {} : undefined
}

/**
 * Reads a 2xx answer with an app's `ack`. The result is always `{ ok: true, emitId, ...fields }`.
 * No ack: retried when the answer is not JSON (a portal), failed at once when it is (retrying the
 * same answer cannot help).
 */
export function readAppAck(read: AckReader, answer: HttpAnswer, envelope: EmitEnvelope): DeliveryResult {
  const { emitId } = envelope
  let fields: unknown
  try {
    fields = read(answer, envelope)
  } catch (error) {
    return invalid(emitId, `httpTransport's ack threw: ${String(error)}`, MAPPING_HINT)
  }
  if (isRecord(fields))
    return { emitId, ok: true, ack: Object.assign({ ok: true, emitId }, fields, { ok: true, emitId }) }
  return fields === undefined && answer.body === undefined
    ? invalid(emitId, NOT_JSON)
    : invalid(emitId, `httpTransport's ack did not take the ${answer.status} answer as an ack.`, MAPPING_HINT)
}
