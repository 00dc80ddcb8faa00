import { describe, expect, it, vi } from 'vitest'
import { reject } from '../src/ack.ts'
import { createOutboxHandler } from '../src/handler.ts'
import type { Envelope, OutboxHandlerOptions } from '../src/types.ts'
import { batchRequest, deferred, envelope, rawRequest, recorder, singleRequest, stubStore, ulidOf } from './helpers.ts'

function setup(
  answer: (e: Envelope) => unknown = (e) => ({ id: e.emitId.slice(-4) }),
  options: Partial<OutboxHandlerOptions> = {},
) {
  const log = recorder()
  const batchFlags: boolean[] = []
  const handler = createOutboxHandler({
    apply: async (e, context) => {
      batchFlags.push(context.batch)
      log.calls.push(e)
      return answer(e) as never
    },
    onError: vi.fn(),
    ...options,
  })
  const send = async (request: Request) => {
    const response = await handler(request)
    return { status: response.status, body: (await response.json()) as { results: Record<string, unknown>[] } }
  }
  return { handler, send, log, batchFlags }
}

const ok = (n: number, extra: Record<string, unknown> = {}) => ({ ok: true, emitId: ulidOf(n), ...extra })
const blocked = (n: number) => ({
  ok: false,
  emitId: ulidOf(n),
  code: 'lane-blocked',
  retryable: true,
  message: expect.any(String),
})

describe('batch mode', () => {
  it('applies every envelope in order and answers one result per envelope', async () => {
    const { send, log, batchFlags } = setup()
    const envelopes = [envelope(1), envelope(2, { lane: 'c2' }), envelope(3)]
    const { status, body } = await send(batchRequest(envelopes))
    expect(status).toBe(200)
    expect(body).toEqual({ results: [ok(1, { id: '0001' }), ok(2, { id: '0002' }), ok(3, { id: '0003' })] })
    expect(log.ids()).toEqual(envelopes.map((e) => e.emitId))
    expect(batchFlags).toEqual([true, true, true])
  })

  it('answers an empty batch with no results', async () => {
    const { send } = setup()
    expect(await send(batchRequest([]))).toEqual({ status: 200, body: { results: [] } })
  })

  it('replays stored results inside a batch without calling apply', async () => {
    const { handler, send, log } = setup()
    await handler(singleRequest(envelope(1)))
    const { body } = await send(batchRequest([envelope(1), envelope(2)]))
    expect(body.results).toEqual([ok(1, { id: '0001' }), ok(2, { id: '0002' })])
    expect(log.ids()).toEqual([ulidOf(1), ulidOf(2)])
  })

  it('holds back the rest of a lane after a retryable rejection, but not other lanes', async () => {
    const { send, log } = setup((e) => (e.emitId === ulidOf(2) ? reject('busy', { retryable: true }) : undefined))
    const envelopes = [envelope(1), envelope(2), envelope(3, { lane: 'c2' }), envelope(4), envelope(5, { lane: 'c2' })]
    const { body } = await send(batchRequest(envelopes))
    expect(body.results).toEqual([
      ok(1),
      { ok: false, emitId: ulidOf(2), code: 'busy', retryable: true },
      ok(3),
      blocked(4),
      ok(5),
    ])
    expect(log.ids()).toEqual([ulidOf(1), ulidOf(2), ulidOf(3), ulidOf(5)])
  })

  it('holds back the rest of a lane after apply throws, and a retry of the batch applies them in order', async () => {
    let fail = true
    const { send, log } = setup((e) => {
      if (fail && e.emitId === ulidOf(1)) throw new Error('boom')
      return undefined
    })
    const envelopes = [envelope(1), envelope(2), envelope(3)]
    const first = await send(batchRequest(envelopes))
    expect(first.body.results).toEqual([
      { ok: false, emitId: ulidOf(1), code: 'internal', retryable: true, message: expect.any(String) },
      blocked(2),
      blocked(3),
    ])
    fail = false
    const retry = await send(batchRequest(envelopes))
    expect(retry.body.results).toEqual([ok(1), ok(2), ok(3)])
    expect(log.ids()).toEqual([ulidOf(1), ulidOf(1), ulidOf(2), ulidOf(3)])
  })

  it('holds back the rest of a lane behind an envelope still in progress elsewhere', async () => {
    const gate = deferred()
    const entered = deferred()
    const { handler, send, log } = setup(async (e) => {
      if (e.emitId === ulidOf(1)) {
        entered.resolve()
        await gate.promise
      }
      return undefined
    })
    const single = handler(singleRequest(envelope(1)))
    await entered.promise
    const { body } = await send(batchRequest([envelope(1), envelope(2), envelope(3, { lane: 'c2' })]))
    expect(body.results).toEqual([
      { ok: false, emitId: ulidOf(1), code: 'in-progress', retryable: true, message: expect.any(String) },
      blocked(2),
      ok(3),
    ])
    gate.resolve()
    await single
    expect(log.ids()).toEqual([ulidOf(1), ulidOf(3)])
  })

  it('lets a lane continue after a non-retryable rejection, which the client fails for good', async () => {
    const { send } = setup((e) => (e.emitId === ulidOf(1) ? reject('forbidden') : undefined))
    const { body } = await send(batchRequest([envelope(1), envelope(2)]))
    expect(body.results).toEqual([{ ok: false, emitId: ulidOf(1), code: 'forbidden' }, ok(2)])
  })

  it('answers key-reused for one envelope without blocking its lane', async () => {
    const { handler, send } = setup()
    await handler(singleRequest(envelope(1)))
    const { body } = await send(batchRequest([envelope(1, { event: 'other' }), envelope(2)]))
    expect(body.results).toEqual([
      { ok: false, emitId: ulidOf(1), code: 'key-reused', retryable: false, message: expect.any(String) },
      ok(2, { id: '0002' }),
    ])
  })

  it('holds back a lane behind a retryable answer that a custom store replays', async () => {
    const stored = { ok: false as const, emitId: ulidOf(1), code: 'busy', retryable: true }
    const { send, log } = setup(undefined, {
      store: stubStore({
        begin: async (key, fingerprint) =>
          key === ulidOf(1)
            ? { status: 'done', fingerprint, result: stored }
            : { status: 'started', token: 't', leaseMs: 60_000 },
      }),
    })
    const { body } = await send(batchRequest([envelope(1), envelope(2)]))
    expect(body.results).toEqual([stored, blocked(2)])
    expect(log.calls).toHaveLength(0)
  })

  it('answers 503 with Retry-After for the whole batch when the store cannot be reached', async () => {
    const begin = vi.fn(() => Promise.reject(new Error('redis down')))
    const { handler, log } = setup(undefined, { store: stubStore({ begin }) })
    const response = await handler(batchRequest([envelope(1), envelope(2, { lane: 'c2' }), envelope(3)]))
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('2')
    const { results } = (await response.json()) as { results: Record<string, unknown>[] }
    expect(results.map((r) => r.code)).toEqual(['unavailable', 'unavailable', 'lane-blocked'])
    expect(begin).toHaveBeenCalledTimes(1) // the rest of the batch does not wait on a store that is down
    expect(log.calls).toHaveLength(0)
  })

  it('keeps the answers of a batch the store failed halfway through, holding back the rest', async () => {
    let calls = 0
    const store = stubStore({
      begin: async () => {
        if (++calls > 1) throw new Error('redis down')
        return { status: 'started', token: 't', leaseMs: 60_000 }
      },
    })
    const { send, log } = setup(undefined, { store })
    const { status, body } = await send(batchRequest([envelope(1), envelope(2), envelope(3, { lane: 'c2' })]))
    expect(status).toBe(200)
    expect(body.results[0]).toEqual(ok(1, { id: '0001' }))
    expect(body.results.slice(1).map((r) => r.code)).toEqual(['unavailable', 'unavailable'])
    expect(log.ids()).toEqual([ulidOf(1)])
  })

  it('answers a duplicate emitId inside one batch with the first result', async () => {
    const { send, log } = setup()
    const { body } = await send(batchRequest([envelope(1), envelope(1)]))
    expect(body.results).toEqual([ok(1, { id: '0001' }), ok(1, { id: '0001' })])
    expect(log.calls).toHaveLength(1)
  })

  it('refuses the whole batch with 400 when one envelope is invalid, applying none', async () => {
    const { send, log } = setup()
    const { status, body } = await send(batchRequest([envelope(1), { ...envelope(2), payload: 'x' }]))
    expect(status).toBe(400)
    expect(body).toEqual({
      ok: false,
      code: 'bad-request',
      message: 'envelopes[1].payload must be an object; it is a string.',
    })
    expect(log.calls).toHaveLength(0)
  })

  it('refuses a batch over maxBatch with 400', async () => {
    const { send, log } = setup(undefined, { maxBatch: 2 })
    const { status, body } = await send(batchRequest([envelope(1), envelope(2), envelope(3)]))
    expect(status).toBe(400)
    expect(body).toMatchObject({ code: 'bad-request', message: 'The batch has 3 envelopes; the limit is 2.' })
    expect(log.calls).toHaveLength(0)
  })

  it('defaults maxBatch to 100', async () => {
    const { send } = setup()
    const list = (n: number) => Array.from({ length: n }, (_, i) => envelope(i))
    expect((await send(batchRequest(list(100)))).status).toBe(200)
    expect((await send(batchRequest(list(101)))).status).toBe(400)
  })

  it('refuses envelopes that are not an array, and a batch with an Idempotency-Key', async () => {
    const { send } = setup()
    expect((await send(rawRequest(JSON.stringify({ envelopes: {} })))).status).toBe(400)
    const keyed = rawRequest(JSON.stringify({ envelopes: [envelope(1)] }), { 'idempotency-key': `"${ulidOf(1)}"` })
    expect((await send(keyed)).status).toBe(400)
  })
})
