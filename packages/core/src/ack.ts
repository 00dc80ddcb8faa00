import { isRecord } from './record.ts'
import type { DeliveryError, DeliveryResult, EmitEnvelope } from './types.ts'

const invalid = (emitId: string, message: string): DeliveryResult => ({
  emitId,
  ok: false,
  error: { kind: 'invalid-ack', message, retryable: true },
})

/**
 * Reads one ack: `{ ok: true, emitId, ...ids }` for this envelope, or `{ ok: false, code,
 * retryable?, message?, hint? }`. Anything else is no ack and is retried as `invalid-ack`.
 */
export function readAck(emitId: string, body: unknown): DeliveryResult {
  if (!isRecord(body)) return invalid(emitId, 'The server answered with something that is not a JSON ack.')
  if (body.ok === true) {
    if (body.emitId !== emitId) return invalid(emitId, `The ack names another event (${String(body.emitId)}).`)
    return { emitId, ok: true, ack: body }
  }
  if (body.ok === false && (typeof body.code === 'string' || typeof body.code === 'number')) {
    if (body.emitId !== undefined && body.emitId !== emitId)
      return invalid(emitId, `The rejection names another event (${String(body.emitId)}).`)
    const error: DeliveryError = {
      kind: 'rejected',
      code: body.code,
      message: typeof body.message === 'string' ? body.message : `The server rejected the event (${body.code}).`,
      retryable: body.retryable === true,
    }
    if (typeof body.hint === 'string') error.hint = body.hint
    return { emitId, ok: false, error }
  }
  return invalid(emitId, 'The server answered 2xx without a valid ack ({ ok: true, emitId }).')
}

/**
 * Matches a batch answer `{ results: [...] }` to the envelopes sent: by `emitId`, or by position for
 * rejections that carry none when the lengths agree. Envelopes left unmatched are retried.
 */
export function readBatchAcks(envelopes: readonly EmitEnvelope[], body: unknown): DeliveryResult[] {
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
