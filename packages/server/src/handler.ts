import { applyOnce } from './apply-once.ts'
import { defaultFingerprint } from './fingerprint.ts'
import { isRecord } from './guards.ts'
import { parseIdempotencyKey } from './idempotency-key.ts'
import { memoryStore } from './memory-store.ts'
import { answer, applyBatch, headersOf, scopedKey } from './outcome.ts'
import { readBody } from './read-body.ts'
import { json, problem, RequestProblem } from './respond.ts'
import type { ApplyContext, Envelope, OutboxHandlerOptions } from './types.ts'
import { validateEnvelope } from './validate.ts'

/** A fetch-style handler; `locals` reaches `apply` as `context.locals`. */
export type OutboxHandler<L = unknown> = (request: Request, locals?: L) => Promise<Response>

const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i

const bad = (message: string) => new RequestProblem(400, 'bad-request', message)

/**
 * Creates the server half of the `httpTransport` wire contract as a fetch-style handler
 * (`Request` in, `Response` out): it validates each envelope, applies each `emitId` at most once
 * through `options.apply`, and answers acks the client understands. Mount it on one POST route:
 * `app.post('/api/events', (c) => handler(c.req.raw))` in Hono, `toNodeListener(handler)` for
 * `node:http`. It never throws; failures become JSON answers.
 */
export function createOutboxHandler<L = unknown>(options: OutboxHandlerOptions<L>): OutboxHandler<L> {
  const store = options.store ?? memoryStore()
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024
  const maxBatch = options.maxBatch ?? 100
  const fingerprint = options.fingerprint ?? defaultFingerprint
  const onError = options.onError ?? ((error: unknown) => console.error('[@outbox/server]', error))

  const parse = async (request: Request): Promise<unknown> => {
    if (request.method !== 'POST') throw new RequestProblem(405, 'method-not-allowed', 'Send events with POST.')
    if (!JSON_TYPE.test(request.headers.get('content-type') ?? ''))
      throw bad('The content-type must be application/json.')
    const text = await readBody(request, maxBodyBytes)
    try {
      return JSON.parse(text)
    } catch {
      throw bad('The request body is not valid JSON.')
    }
  }

  const envelopesOf = (body: Record<string, unknown>, request: Request): Envelope[] => {
    if (request.headers.has('idempotency-key'))
      throw bad('A batch carries one emitId per envelope; leave the Idempotency-Key header out.')
    const list = body.envelopes
    if (!Array.isArray(list)) throw bad('body.envelopes must be an array of envelopes.')
    if (list.length > maxBatch) throw bad(`The batch has ${list.length} envelopes; the limit is ${maxBatch}.`)
    return list.map((item, i) => {
      const checked = validateEnvelope(item, `envelopes[${i}]`)
      if (!checked.ok) throw bad(checked.message)
      return checked.envelope
    })
  }

  const single = (body: unknown, request: Request): Envelope => {
    const checked = validateEnvelope(body)
    if (!checked.ok) throw bad(checked.message)
    const header = request.headers.get('idempotency-key')
    if (header !== null) {
      const key = parseIdempotencyKey(header)
      if (key === undefined)
        throw bad(`The Idempotency-Key header must be a quoted structured-field string: "${checked.envelope.emitId}".`)
      if (key !== checked.envelope.emitId) throw bad('The Idempotency-Key header does not match body.emitId.')
    }
    return checked.envelope
  }

  return async (request, locals) => {
    try {
      const body = await parse(request)
      const isBatch = isRecord(body) && 'envelopes' in body
      const envelopes = isBatch ? envelopesOf(body, request) : [single(body, request)]
      const scope = options.scope ? await options.scope(request, locals as L) : undefined
      const context: ApplyContext<L> = { request, locals: locals as L, batch: isBatch, signal: request.signal }
      const settle = (envelope: Envelope) =>
        applyOnce(envelope, {
          store,
          key: scopedKey(scope, envelope.emitId),
          fingerprint,
          run: () => options.apply(envelope, context),
          onError,
        })

      if (!isBatch) {
        const envelope = envelopes[0] as Envelope
        const outcome = await settle(envelope)
        const { status, result } = answer(envelope.emitId, outcome)
        return json(status, result, headersOf(outcome.kind))
      }
      const { results, unreachable } = await applyBatch(envelopes, settle)
      // Nothing was applied or replayed: the whole batch is a 503 the client waits out.
      if (unreachable) return json(503, { results }, headersOf('unavailable'))
      return json(200, { results })
    } catch (error) {
      if (error instanceof RequestProblem) return problem(error, error.status === 405 ? { allow: 'POST' } : undefined)
      onError(error)
      return json(500, { ok: false, code: 'internal', retryable: true, message: 'The server failed; retry.' })
    }
  }
}
