import { describe, expect, it, vi } from 'vitest'
import { reject } from '../src/ack.ts'
import { createOutboxHandler } from '../src/handler.ts'
import { memoryStore } from '../src/memory-store.ts'
import type { ApplyContext, Envelope, OutboxHandlerOptions } from '../src/types.ts'
import { deferred, envelope, rawRequest, recorder, singleRequest, stubStore, ulidOf } from './helpers.ts'

/** A handler whose apply records calls and answers through `answer` (default: a messageId). */
function setup(
  answer: (e: Envelope, context: ApplyContext) => unknown = (e) => ({ messageId: `srv-${e.emitId.slice(-4)}` }),
  options: Partial<OutboxHandlerOptions> = {},
) {
  const log = recorder()
  const onError = vi.fn()
  const handler = createOutboxHandler({
    apply: async (e, context) => {
      log.calls.push(e)
      return answer(e, context) as never
    },
    onError,
    ...options,
  })
  const send = async (request: Request) => {
    const response = await handler(request)
    return {
      status: response.status,
      body: (await response.json()) as Record<string, unknown>,
      headers: response.headers,
    }
  }
  return { handler, send, log, onError }
}

describe('single mode', () => {
  it('applies the envelope and answers the ack with the ids apply returned', async () => {
    const { send, log } = setup()
    const e = envelope(1, { keys: { messageId: 'm1' } })
    const { status, body, headers } = await send(singleRequest(e))
    expect(status).toBe(200)
    expect(body).toEqual({ ok: true, emitId: e.emitId, messageId: 'srv-0001' })
    expect(headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(headers.get('cache-control')).toBe('no-store')
    expect(log.calls).toEqual([e])
  })

  it('acks with just ok and emitId when apply returns nothing', async () => {
    const { send } = setup(() => undefined)
    expect((await send(singleRequest(envelope(1)))).body).toEqual({ ok: true, emitId: ulidOf(1) })
  })

  it('keeps ok and emitId authoritative over what apply returns', async () => {
    const { send } = setup(() => ({ ok: 'yes', emitId: 'other', id: 7 }))
    expect((await send(singleRequest(envelope(1)))).body).toEqual({ ok: true, emitId: ulidOf(1), id: 7 })
  })

  it('passes the request, locals, batch flag and signal to apply', async () => {
    let seen: ApplyContext | undefined
    const handler = createOutboxHandler<{ user: string }>({
      apply: (_e, context) => {
        seen = context as ApplyContext
        return { by: context.locals.user }
      },
    })
    const request = singleRequest(envelope(1))
    const response = await handler(request, { user: 'u1' })
    expect(await response.json()).toMatchObject({ by: 'u1' })
    expect(seen).toEqual({ request, locals: { user: 'u1' }, batch: false, signal: request.signal })
  })

  it('accepts a request without an Idempotency-Key header', async () => {
    const { send, log } = setup()
    const e = envelope(1)
    const request = new Request('http://x/api/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(e),
    })
    expect((await send(request)).status).toBe(200)
    expect(log.ids()).toEqual([e.emitId])
  })

  it('answers a repeated emitId with the stored ack, without calling apply again', async () => {
    let n = 0
    const { send, log } = setup(() => ({ seq: ++n }))
    const first = await send(singleRequest(envelope(1)))
    const again = await send(singleRequest(envelope(1)))
    expect(again.status).toBe(200)
    expect(again.body).toEqual(first.body)
    expect(again.body).toEqual({ ok: true, emitId: ulidOf(1), seq: 1 })
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(first.headers.get('idempotent-replayed')).toBeNull()
    expect(log.calls).toHaveLength(1)
  })

  it('answers 409 in-progress while the first request with the key is still applying', async () => {
    const gate = deferred()
    const entered = deferred()
    const { handler, send, log } = setup(async () => {
      entered.resolve()
      await gate.promise
      return { id: 1 }
    })
    const first = handler(singleRequest(envelope(1)))
    await entered.promise
    const second = await send(singleRequest(envelope(1)))
    expect(second.status).toBe(409)
    expect(second.headers.get('retry-after')).toBe('1')
    expect(second.body).toEqual({
      ok: false,
      emitId: ulidOf(1),
      code: 'in-progress',
      retryable: true,
      message: expect.any(String),
    })
    gate.resolve()
    expect(await (await first).json()).toEqual({ ok: true, emitId: ulidOf(1), id: 1 })
    expect((await send(singleRequest(envelope(1)))).body).toEqual({ ok: true, emitId: ulidOf(1), id: 1 })
    expect(log.calls).toHaveLength(1)
  })

  it('answers 422 key-reused when the emitId comes back with another payload', async () => {
    const { send, log } = setup()
    await send(singleRequest(envelope(1)))
    const reused = await send(singleRequest(envelope(1, { payload: { chatId: 'c1', text: 'changed' } })))
    expect(reused.status).toBe(422)
    expect(reused.body).toMatchObject({ ok: false, emitId: ulidOf(1), code: 'key-reused', retryable: false })
    expect(log.calls).toHaveLength(1)
  })

  it('answers 422 key-reused for another payload even while the first is in progress', async () => {
    const gate = deferred()
    const entered = deferred()
    const { handler, send } = setup(async () => {
      entered.resolve()
      await gate.promise
    })
    const first = handler(singleRequest(envelope(1)))
    await entered.promise
    expect((await send(singleRequest(envelope(1, { lane: 'other' })))).status).toBe(422)
    gate.resolve()
    await first
  })

  it('answers 500 when apply throws and releases the key so a retry applies it', async () => {
    let fail = true
    const { send, log, onError } = setup(() => {
      if (fail) throw new Error('database down')
      return { id: 2 }
    })
    const failed = await send(singleRequest(envelope(1)))
    expect(failed.status).toBe(500)
    expect(failed.body).toMatchObject({ ok: false, emitId: ulidOf(1), code: 'internal', retryable: true })
    expect(JSON.stringify(failed.body)).not.toContain('database down')
    expect(onError).toHaveBeenCalledWith(new Error('database down'), envelope(1))
    fail = false
    const retried = await send(singleRequest(envelope(1)))
    expect(retried.body).toEqual({ ok: true, emitId: ulidOf(1), id: 2 })
    expect(log.calls).toHaveLength(2)
  })

  it('answers a rejection with 200 and stores it, so a repeat gets the same rejection', async () => {
    const { send, log } = setup(() =>
      reject('forbidden', { message: 'Not a member of this chat.', hint: 'Ask to be invited.' }),
    )
    const first = await send(singleRequest(envelope(1)))
    expect(first.status).toBe(200)
    expect(first.body).toEqual({
      ok: false,
      emitId: ulidOf(1),
      code: 'forbidden',
      message: 'Not a member of this chat.',
      hint: 'Ask to be invited.',
    })
    const again = await send(singleRequest(envelope(1)))
    expect(again.body).toEqual(first.body)
    expect(log.calls).toHaveLength(1)
  })

  it('does not store a retryable rejection, so the retry calls apply again', async () => {
    let busy = true
    const { send, log } = setup(() => (busy ? { ok: false, code: 'busy', retryable: true } : { id: 3 }))
    expect((await send(singleRequest(envelope(1)))).body).toEqual({
      ok: false,
      emitId: ulidOf(1),
      code: 'busy',
      retryable: true,
    })
    busy = false
    expect((await send(singleRequest(envelope(1)))).body).toEqual({ ok: true, emitId: ulidOf(1), id: 3 })
    expect(log.calls).toHaveLength(2)
  })

  it.each([
    ['a rejection without a code', () => ({ ok: false })],
    ['a number', () => 42],
    ['data JSON cannot carry', () => ({ id: 10n })],
  ])('answers 500 and releases the key when apply returns %s', async (_name, answer) => {
    const { send, log } = setup(answer)
    expect((await send(singleRequest(envelope(1)))).status).toBe(500)
    expect((await send(singleRequest(envelope(1)))).status).toBe(500)
    expect(log.calls).toHaveLength(2)
  })

  it('applies the event again once the store has forgotten it (TTL)', async () => {
    let now = 0
    const { send, log } = setup(undefined, { store: memoryStore({ ttlMs: 1_000, now: () => now }) })
    await send(singleRequest(envelope(1)))
    now = 999
    await send(singleRequest(envelope(1)))
    expect(log.calls).toHaveLength(1)
    now = 1_000
    await send(singleRequest(envelope(1)))
    expect(log.calls).toHaveLength(2)
  })

  it('keeps keys of different scopes apart', async () => {
    const { handler, log } = setup(undefined, { scope: (request) => request.headers.get('x-user') ?? 'anonymous' })
    const as = (user: string) => handler(singleRequest(envelope(1), { 'x-user': user }))
    await as('alice')
    await as('bob')
    await as('alice')
    expect(log.calls).toHaveLength(2)
  })

  it('answers 503 with Retry-After when the store fails, without calling apply', async () => {
    const { send, log, onError } = setup(undefined, {
      store: stubStore({ begin: () => Promise.reject(new Error('redis down')) }),
    })
    const { status, body, headers } = await send(singleRequest(envelope(1)))
    expect(status).toBe(503)
    expect(headers.get('retry-after')).toBe('2')
    expect(body).toMatchObject({ ok: false, emitId: ulidOf(1), code: 'unavailable', retryable: true })
    expect(log.calls).toHaveLength(0)
    expect(onError).toHaveBeenCalledWith(new Error('redis down'), envelope(1))
  })

  it('still answers the ack when storing it fails after apply succeeded', async () => {
    const { send, onError } = setup(undefined, {
      store: stubStore({ complete: () => Promise.reject(new Error('write failed')) }),
    })
    expect((await send(singleRequest(envelope(1)))).body).toEqual({
      ok: true,
      emitId: ulidOf(1),
      messageId: 'srv-0001',
    })
    expect(onError).toHaveBeenCalledWith(new Error('write failed'), envelope(1))
  })

  it('answers the ack and reports it when the claim ran out before the answer was stored', async () => {
    const { send, onError } = setup(undefined, { store: stubStore({ complete: async () => false }) })
    const { status, body } = await send(singleRequest(envelope(1)))
    expect(status).toBe(200)
    expect(body).toEqual({ ok: true, emitId: ulidOf(1), messageId: 'srv-0001' })
    expect(onError).toHaveBeenCalledWith(
      expect.objectContaining({ message: expect.stringMatching(/ran out/) }),
      envelope(1),
    )
  })

  it('releases the claim with its own token when apply throws', async () => {
    const abandon = vi.fn(async () => true)
    const { send } = setup(
      () => {
        throw new Error('boom')
      },
      { store: stubStore({ begin: async () => ({ status: 'started', token: 'mine', leaseMs: 60_000 }), abandon }) },
    )
    expect((await send(singleRequest(envelope(1)))).status).toBe(500)
    expect(abandon).toHaveBeenCalledWith(ulidOf(1), 'mine')
  })

  it('uses a custom fingerprint to decide what counts as the same event', async () => {
    const { send, log } = setup(undefined, { fingerprint: (e) => e.event })
    await send(singleRequest(envelope(1)))
    expect((await send(singleRequest(envelope(1, { payload: { other: true } })))).status).toBe(200)
    expect((await send(singleRequest(envelope(1, { event: 'chat:read' })))).status).toBe(422)
    expect(log.calls).toHaveLength(1)
  })

  it('accepts a custom fingerprint that answers with a promise', async () => {
    const { send, log } = setup(undefined, { fingerprint: async (e) => e.event })
    await send(singleRequest(envelope(1)))
    expect((await send(singleRequest(envelope(1, { payload: { other: true } })))).status).toBe(200)
    expect((await send(singleRequest(envelope(1, { event: 'chat:read' })))).status).toBe(422)
    expect(log.calls).toHaveLength(1)
  })

  it.each([
    [
      'throws',
      () => {
        throw new Error('no fingerprint')
      },
    ],
    ['rejects', () => Promise.reject(new Error('no fingerprint'))],
  ])('answers 500 without calling apply when the fingerprint %s', async (_name, fingerprint) => {
    const { send, log, onError } = setup(undefined, { fingerprint })
    expect((await send(singleRequest(envelope(1)))).status).toBe(500)
    expect(onError).toHaveBeenCalledWith(new Error('no fingerprint'), envelope(1))
    expect(log.calls).toHaveLength(0)
  })
})

describe('bad requests', () => {
  const badRequest = { ok: false, code: 'bad-request', message: expect.any(String) }

  it.each([
    ['invalid JSON', () => rawRequest('{"emitId":')],
    ['an empty body', () => rawRequest(null)],
    ['a JSON array', () => rawRequest('[]')],
    ['a missing field', () => singleRequest({ ...envelope(1), event: undefined })],
    ['a wrong type', () => singleRequest({ ...envelope(1), createdAt: 'yesterday' })],
    ['no content-type', () => new Request('http://x/', { method: 'POST', body: JSON.stringify(envelope(1)) })],
    ['a text/plain content-type', () => rawRequest(JSON.stringify(envelope(1)), { 'content-type': 'text/plain' })],
    ['an unquoted Idempotency-Key', () => singleRequest(envelope(1), { 'idempotency-key': ulidOf(1) })],
    [
      'an Idempotency-Key for another emitId',
      () => singleRequest(envelope(1), { 'idempotency-key': `"${ulidOf(2)}"` }),
    ],
    ['invalid UTF-8', () => rawRequest(new Uint8Array([0x7b, 0xff, 0x7d]))],
  ])('answers 400 to %s and never calls apply', async (_name, request) => {
    const { send, log } = setup()
    const { status, body } = await send(request())
    expect(status).toBe(400)
    expect(body).toEqual(badRequest)
    expect(log.calls).toHaveLength(0)
  })

  it('says what is wrong', async () => {
    const { send } = setup()
    expect((await send(singleRequest({ ...envelope(1), lane: 7 }))).body.message).toBe(
      'body.lane must be a string; it is a number.',
    )
    expect((await send(singleRequest(envelope(1), { 'idempotency-key': `"${ulidOf(2)}"` }))).body.message).toBe(
      'The Idempotency-Key header does not match body.emitId.',
    )
  })

  it('accepts a +json media type', async () => {
    const { send } = setup()
    const request = rawRequest(JSON.stringify(envelope(1)), { 'content-type': 'application/vnd.outbox+json' })
    expect((await send(request)).status).toBe(200)
  })

  it('answers 405 with Allow: POST to other methods', async () => {
    const { send } = setup()
    const { status, body, headers } = await send(new Request('http://x/api/events'))
    expect(status).toBe(405)
    expect(body).toMatchObject({ ok: false, code: 'method-not-allowed' })
    expect(headers.get('allow')).toBe('POST')
  })

  it('answers 413 when Content-Length announces more than the limit, without reading the body', async () => {
    const { send, log } = setup(undefined, { maxBodyBytes: 100 })
    let pulled = 0
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++
        controller.enqueue(new Uint8Array(10))
      },
    })
    const request = new Request('http://x/', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': '101' },
      body,
      duplex: 'half',
    } as RequestInit)
    const { status, body: answer } = await send(request)
    expect(status).toBe(413)
    expect(answer).toMatchObject({ ok: false, code: 'too-large' })
    expect(pulled).toBeLessThanOrEqual(1) // at most the stream's own first prefetch
    expect(log.calls).toHaveLength(0)
  })

  it('answers 413 as soon as a streamed body passes the limit, without reading the rest', async () => {
    const { send, log } = setup(undefined, { maxBodyBytes: 1024 * 1024 })
    let pulled = 0
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++
        controller.enqueue(new Uint8Array(64 * 1024).fill(0x20))
      },
    })
    const request = new Request('http://x/', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit)
    expect((await send(request)).status).toBe(413)
    expect(pulled).toBeLessThan(20) // 17 chunks pass 1 MiB; the stream never ends on its own
    expect(log.calls).toHaveLength(0)
  })

  it('accepts a body of exactly the limit', async () => {
    const { send } = setup(undefined, { maxBodyBytes: 300 })
    const text = JSON.stringify(envelope(1))
    const padded = text.padEnd(300, ' ')
    expect((await send(rawRequest(padded, { 'idempotency-key': `"${ulidOf(1)}"` }))).status).toBe(200)
    expect((await send(rawRequest(`${padded} `))).status).toBe(413)
  })

  it('defaults the limit to 1 MiB', async () => {
    const { send } = setup()
    const big = envelope(1, { payload: { text: 'x'.repeat(1024 * 1024) } })
    expect((await send(singleRequest(big))).status).toBe(413)
    const fits = envelope(2, { payload: { text: 'x'.repeat(1024 * 1024 - 200) } })
    expect((await send(singleRequest(fits))).status).toBe(200)
  })

  it('answers 500 and reports it when scope throws', async () => {
    const { send, onError, log } = setup(undefined, {
      scope: () => {
        throw new Error('no session')
      },
    })
    const { status, body } = await send(singleRequest(envelope(1)))
    expect(status).toBe(500)
    expect(body).toMatchObject({ ok: false, code: 'internal', retryable: true })
    expect(onError).toHaveBeenCalledWith(new Error('no session'))
    expect(log.calls).toHaveLength(0)
  })
})
