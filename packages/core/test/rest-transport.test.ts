/**
 * `httpTransport({ request, ack })` against real `node:http` servers on 127.0.0.1: one request of
 * an existing REST API per envelope, and the rules that say which 2xx answers are acks.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DeliveryFailedError } from '../src/errors.ts'
import { type HttpTransportOptions, httpTransport } from '../src/http-transport.ts'
import { manualNetwork } from '../src/network.ts'
import { createOutbox } from '../src/outbox.ts'
import type { DeliveryResult, EmitEnvelope, Outbox } from '../src/types.ts'
import { fakeClock, listenLocal } from './helpers.ts'

type Seen = { method: string; path: string; headers: IncomingHttpHeaders; text: string }
type Respond = (res: ServerResponse, seen: Seen) => void

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
  vi.unstubAllGlobals()
})

/** A server that answers each request with the next of `script` (the last one repeats). */
async function serve(...script: Respond[]) {
  const seen: Seen[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const entry = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        text: Buffer.concat(chunks).toString('utf8'),
      }
      seen.push(entry)
      ;(script.length > 1 ? (script.shift() as Respond) : (script[0] as Respond))(res, entry)
    })
  })
  const { origin, close } = await listenLocal(server)
  cleanups.push(close)
  return { origin, seen }
}

const json =
  (status: number, value: unknown, headers: Record<string, string> = {}): Respond =>
  (res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(JSON.stringify(value))
  }
const raw =
  (status: number, text: string, headers: Record<string, string> = {}): Respond =>
  (res) => {
    res.writeHead(status, headers)
    res.end(text)
  }

const envelope = (n: number, payload: Record<string, unknown> = { chatId: 'c1', text: `m${n}` }): EmitEnvelope => ({
  emitId: `01JD000000000000000000000${n}`,
  event: 'user:message',
  payload,
  lane: 'c1',
  createdAt: 1_700_000_000_000 + n,
})
const signal = () => new AbortController().signal
/** The REST mapping of the README: a chat message becomes `POST /api/chats/{chatId}/messages`. */
const toMessages: HttpTransportOptions['request'] = (e) => ({
  url: `/api/chats/${e.payload.chatId}/messages`,
  body: { text: e.payload.text },
})
const sendOne = async (options: HttpTransportOptions, e = envelope(1)) =>
  (await httpTransport(options).send([e], signal()))[0] as DeliveryResult
const errorOf = (r: DeliveryResult) => (r.ok ? undefined : r.error)

describe('httpTransport request', () => {
  it('maps an envelope to its own URL, method, body and headers, with the Idempotency-Key as always', async () => {
    const { origin, seen } = await serve(json(201, { id: 'm-1', text: 'm1' }))
    const r = await sendOne({
      url: `${origin}/api/events`,
      headers: { Authorization: 'Bearer t' },
      request: (e) => ({
        url: `/api/chats/${e.payload.chatId}/messages`,
        method: 'put',
        body: { text: e.payload.text },
        headers: { 'X-Client': 'outbox' },
      }),
    })
    expect(r).toEqual({
      emitId: envelope(1).emitId,
      ok: true,
      ack: { ok: true, emitId: envelope(1).emitId, id: 'm-1', text: 'm1' },
    })
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({ method: 'PUT', path: '/api/chats/c1/messages', text: '{"text":"m1"}' })
    expect(seen[0]?.headers).toMatchObject({
      'idempotency-key': `"${envelope(1).emitId}"`,
      authorization: 'Bearer t',
      'x-client': 'outbox',
      'content-type': 'application/json',
    })
  })

  it('resolves a relative url against the transport’s url, and takes an absolute one as it is', async () => {
    const a = await serve(json(200, {}))
    const b = await serve(json(200, {}))
    const urls = ['messages', '../read', undefined, `${b.origin}/elsewhere?x=1`]
    const t = httpTransport({ url: `${a.origin}/api/chats/`, request: (e) => ({ url: urls[e.payload.n as number] }) })
    for (let n = 0; n < urls.length; n++) await t.send([envelope(n, { n })], signal())
    expect(a.seen.map((s) => s.path)).toEqual(['/api/chats/messages', '/api/read', '/api/chats/'])
    expect(b.seen.map((s) => s.path)).toEqual(['/elsewhere?x=1'])
  })

  it('sends the envelope when body is absent, no body when it is present but undefined', async () => {
    const { origin, seen } = await serve(json(200, {}))
    const url = `${origin}/x`
    await sendOne({ url, request: () => ({}) })
    await sendOne({ url, request: () => ({ method: 'DELETE', body: undefined }) })
    await sendOne({ url, request: () => ({ method: 'GET' }) })
    await sendOne({ url, request: () => ({ body: 'just a string' }) })
    expect(JSON.parse(seen[0]?.text ?? '')).toEqual(envelope(1))
    expect(seen[0]?.method).toBe('POST')
    for (const s of [seen[1], seen[2]]) {
      expect(s?.text).toBe('')
      expect(s?.headers['content-type']).toBeUndefined()
      expect(s?.headers['idempotency-key']).toBe(`"${envelope(1).emitId}"`)
    }
    expect(seen.map((s) => s.method)).toEqual(['POST', 'DELETE', 'GET', 'POST'])
    expect(seen[3]?.text).toBe('"just a string"')
  })

  it('lets request’s headers win over the transport’s, whatever their case', async () => {
    const { origin, seen } = await serve(json(200, {}))
    await sendOne({
      url: origin,
      headers: { 'X-Tenant': 'a' },
      request: () => ({ headers: { 'x-tenant': 'b', 'Idempotency-Key': 'plain-key' } }),
    })
    expect(seen[0]?.headers['x-tenant']).toBe('b')
    expect(seen[0]?.headers['idempotency-key']).toBe('plain-key')
  })

  it('is a TypeError at creation with batch, or when request or ack is not a function', () => {
    const request = () => ({})
    expect(() => httpTransport({ url: '/e', request, batch: true })).toThrow(TypeError)
    expect(() => httpTransport({ url: '/e', request, batch: { maxItems: 5 } })).toThrow(/batch/)
    expect(() => httpTransport({ url: '/e', request: 'POST /x' as never })).toThrow(TypeError)
    expect(() => httpTransport({ url: '/e', ack: {} as never })).toThrow(TypeError)
    expect(httpTransport({ url: '/e', request, batch: false }).maxBatch).toBe(1)
  })

  it.each([
    [
      'throws',
      () => (): never => {
        throw new Error('no chatId')
      },
    ],
    ['answers nothing', () => () => undefined as never],
    ['answers a number as url', () => () => ({ url: 42 }) as never],
    ['gives a GET a body', () => () => ({ method: 'GET', body: { a: 1 } })],
    ['gives a body JSON cannot encode', () => () => ({ body: { n: 1n } })],
  ])('fails the item at once, sending nothing, when request %s', async (_name, make) => {
    const { origin, seen } = await serve(json(200, {}))
    const r = await sendOne({ url: origin, request: make() })
    expect(errorOf(r)).toMatchObject({ kind: 'rejected', code: 'request', retryable: false })
    expect(errorOf(r)?.hint).toMatch(/request/)
    expect(seen).toHaveLength(0)
  })
})

describe('httpTransport default ack with request', () => {
  const fields = async (respond: Respond) => {
    const { origin } = await serve(respond)
    return sendOne({ url: origin, request: toMessages })
  }
  const id = envelope(1).emitId

  it.each([
    ['a JSON object: its fields', json(201, { id: 'm-1', text: 'hi' }), { id: 'm-1', text: 'hi' }],
    ['a JSON array: { body }', json(200, [1, 2]), { body: [1, 2] }],
    ['a JSON string: { body }', json(200, 'done'), { body: 'done' }],
    ['JSON null: { body }', json(200, null), { body: null }],
    ['204 No Content: {}', raw(204, ''), {}],
    ['205 Reset Content: {}', raw(205, ''), {}],
    ['200 with Content-Length: 0: {}', raw(200, '', { 'content-length': '0' }), {}],
    [
      '202 with an empty JSON body: {}',
      raw(202, '', { 'content-type': 'application/json', 'content-length': '0' }),
      {},
    ],
  ])('takes %s', async (_name, respond, expected) => {
    expect(await fields(respond)).toEqual({ emitId: id, ok: true, ack: { ok: true, emitId: id, ...expected } })
  })

  it('always resolves { ok: true, emitId, ...fields }, whatever the fields say', async () => {
    const r = await fields(json(200, { ok: false, emitId: 'someone-else', id: 'm-1' }))
    expect(r).toEqual({ emitId: id, ok: true, ack: { ok: true, emitId: id, id: 'm-1' } })
    expect(Object.keys(r.ok ? r.ack : {})).toEqual(['ok', 'emitId', 'id'])
  })

  it.each([
    ['an HTML page (captive portal)', raw(200, '<html>Sign in</html>', { 'content-type': 'text/html' })],
    ['JSON sent as text/plain', raw(200, '{"id":"m-1"}', { 'content-type': 'text/plain' })],
    ['truncated JSON', raw(201, '{"id":', { 'content-type': 'application/json' })],
  ])('retries %s as invalid-ack, never taking it as delivered', async (_name, respond) => {
    expect(errorOf(await fields(respond))).toMatchObject({ kind: 'invalid-ack', retryable: true })
  })

  it('classifies answers other than 2xx as before: hard codes, 409, 422, Retry-After', async () => {
    const { origin } = await serve(
      json(409, {}),
      json(422, { message: 'key reused' }),
      json(404, {}),
      json(503, {}, { 'retry-after': '3' }),
    )
    const ack = vi.fn(() => ({}))
    const t = httpTransport({ url: origin, request: toMessages, ack })
    const results = []
    for (let n = 0; n < 4; n++) results.push((await t.send([envelope(n)], signal()))[0])
    expect(results.map((r) => [errorOf(r as DeliveryResult)?.code, errorOf(r as DeliveryResult)?.retryable])).toEqual([
      [409, true],
      [422, false],
      [404, false],
      [503, true],
    ])
    expect(results[3]).toMatchObject({ retryAfterMs: 3000 })
    expect(ack).not.toHaveBeenCalled()
  })
})

describe('httpTransport custom ack', () => {
  it('reads a 2xx answer: status, headers, parsed body and the envelope', async () => {
    const { origin } = await serve(json(201, { data: { id: 'm-9' } }, { location: '/m/9' }))
    const answers: unknown[] = []
    const r = await sendOne({
      url: origin,
      request: toMessages,
      ack: (answer, e) => {
        answers.push([answer.status, answer.headers.get('location'), answer.body, e.emitId])
        return { messageId: (answer.body as { data: { id: string } }).data.id }
      },
    })
    expect(answers).toEqual([[201, '/m/9', { data: { id: 'm-9' } }, envelope(1).emitId]])
    expect(r).toMatchObject({ ok: true, ack: { ok: true, emitId: envelope(1).emitId, messageId: 'm-9' } })
  })

  it('works without request, on the outbox wire format', async () => {
    const { origin, seen } = await serve(json(200, { saved: true }))
    const r = await sendOne({
      url: origin,
      ack: ({ body }) => ((body as Record<string, unknown>).saved ? {} : undefined),
    })
    expect(r).toMatchObject({ ok: true, ack: { ok: true, emitId: envelope(1).emitId } })
    expect(JSON.parse(seen[0]?.text ?? '')).toEqual(envelope(1))
  })

  it('fails at once when it refuses a JSON answer, and retries when it refuses a page that is not JSON', async () => {
    const { origin } = await serve(json(200, { unexpected: true }), raw(200, '<html>portal</html>'))
    const t = httpTransport({ url: origin, request: toMessages, ack: () => undefined })
    const [json200] = await t.send([envelope(1)], signal())
    const [page] = await t.send([envelope(2)], signal())
    expect(errorOf(json200 as DeliveryResult)).toMatchObject({ kind: 'invalid-ack', retryable: false })
    expect(errorOf(json200 as DeliveryResult)?.hint).toMatch(/request and ack/)
    expect(errorOf(page as DeliveryResult)).toMatchObject({ kind: 'invalid-ack', retryable: true })
  })

  it('fails at once when it throws or returns something other than an object', async () => {
    const { origin } = await serve(json(200, { id: 1 }))
    const acks: HttpTransportOptions['ack'][] = [
      () => {
        throw new Error('no id here')
      },
      () => 'yes' as never,
      () => [] as never,
      () => null as never,
    ]
    for (const ack of acks) {
      const r = await sendOne({ url: origin, request: toMessages, ack })
      expect(errorOf(r)).toMatchObject({ kind: 'invalid-ack', retryable: false })
    }
  })
})

describe('httpTransport request: page-hide beacons', () => {
  it('sends one keepalive request per envelope, built by request, within the 64 KiB budget', async () => {
    const calls: Array<[string, RequestInit]> = []
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push([url, init])
      return new Response(null, { status: 204 })
    })
    const t = httpTransport({
      url: 'https://api.example/api/',
      headers: { authorization: 'Bearer t' },
      request: (e) => ({ url: `chats/${e.lane}/messages`, method: 'PUT', body: e.payload }),
    })
    const big = (n: number, lane: string) => ({ ...envelope(n, { blob: 'x'.repeat(30 * 1024) }), lane })
    t.sendBeacon?.([[big(1, 'a')], [big(2, 'b')], [big(3, 'c')]])
    expect(calls.map(([url, init]) => [url, init.method, init.keepalive])).toEqual([
      ['https://api.example/api/chats/a/messages', 'PUT', true],
      ['https://api.example/api/chats/b/messages', 'PUT', true],
    ])
    const [, init] = calls[0] as [string, RequestInit]
    expect(JSON.parse(init.body as string)).toEqual({ blob: 'x'.repeat(30 * 1024) })
    expect(init.headers).toMatchObject({
      authorization: 'Bearer t',
      'content-type': 'application/json',
      'idempotency-key': `"${envelope(1).emitId}"`,
    })
  })

  it('skips an envelope request cannot map, and sends the others', async () => {
    const calls: string[] = []
    vi.stubGlobal('fetch', async (url: string) => {
      calls.push(url)
      return new Response(null, { status: 204 })
    })
    const t = httpTransport({
      url: 'https://api.example/',
      request: (e) => {
        if (e.lane === 'bad') throw new Error('unmapped')
        return { url: `/l/${e.lane}`, body: undefined }
      },
    })
    t.sendBeacon?.([[{ ...envelope(1), lane: 'bad' }], [{ ...envelope(2), lane: 'good' }]])
    expect(calls).toEqual(['https://api.example/l/good'])
  })
})

describe('an outbox over httpTransport request', () => {
  const open: Outbox[] = []
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close()
  })
  async function until(condition: () => boolean) {
    const deadline = Date.now() + 5_000
    while (!condition()) {
      if (Date.now() > deadline) throw new Error('condition not met within 5 s')
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
  }
  function outboxOver(options: HttpTransportOptions) {
    const clock = fakeClock()
    const outbox = createOutbox({
      transport: httpTransport(options),
      clock,
      network: manualNetwork(),
      retry: { jitter: false, baseMs: 100 },
    })
    open.push(outbox)
    return { outbox, clock }
  }

  it('resolves delivered() and outbox:acked with { ok: true, emitId, ...fields }, 204s included', async () => {
    const { origin, seen } = await serve((res, s) =>
      s.path.endsWith('/read') ? raw(204, '')(res, s) : json(201, { id: 'srv-1', text: 'hi' })(res, s),
    )
    const { outbox } = outboxOver({
      url: `${origin}/api/`,
      request: (e) =>
        e.event === 'chat:read'
          ? { url: `chats/${e.payload.chatId}/read`, body: { upTo: e.payload.upTo } }
          : { url: `chats/${e.payload.chatId}/messages`, body: { text: e.payload.text } },
    })
    const acked: unknown[] = []
    outbox.on('outbox:acked', ({ ack }) => acked.push(ack))
    const m = outbox.emit('user:message', { chatId: 'c1', text: 'hi' })
    const read = outbox.emit('chat:read', { chatId: 'c1', upTo: 'srv-1' })
    await expect(outbox.delivered(m.emitId)).resolves.toEqual({ ok: true, emitId: m.emitId, id: 'srv-1', text: 'hi' })
    await expect(outbox.delivered(read.emitId)).resolves.toEqual({ ok: true, emitId: read.emitId })
    expect(acked).toEqual([
      { ok: true, emitId: m.emitId, id: 'srv-1', text: 'hi' },
      { ok: true, emitId: read.emitId },
    ])
    expect(seen.map((s) => [s.path, s.text])).toEqual([
      ['/api/chats/c1/messages', '{"text":"hi"}'],
      ['/api/chats/c1/read', '{"upTo":"srv-1"}'],
    ])
  })

  it('fails a JSON answer its ack refuses at once, with the hint, and the lane goes on', async () => {
    const { origin } = await serve(json(200, { error: 'unexpected' }), json(200, { id: 2 }))
    const { outbox } = outboxOver({
      url: origin,
      request: () => ({}),
      ack: ({ body }) => ('id' in (body as object) ? { id: (body as { id: number }).id } : undefined),
    })
    const first = outbox.emit('m', { chatId: 'c' })
    const second = outbox.emit('m', { chatId: 'c' })
    await expect(outbox.delivered(first.emitId)).rejects.toBeInstanceOf(DeliveryFailedError)
    await expect(outbox.delivered(second.emitId)).resolves.toMatchObject({ id: 2 })
    const [failed] = outbox.failed.value
    expect(failed?.attempts).toBe(1)
    expect(failed?.error).toMatchObject({ kind: 'invalid-ack', retryable: false })
    expect(failed?.error.hint).toMatch(/request and ack/)
  })

  it('fails a REST answer sent to the outbox wire format at once (no request), with the hint', async () => {
    const { origin, seen } = await serve(json(201, { id: 'm-1', text: 'hi' }))
    const { outbox, clock } = outboxOver({ url: origin })
    const e = outbox.emit('user:message', { chatId: 'c', text: 'hi' })
    await expect(outbox.delivered(e.emitId)).rejects.toBeInstanceOf(DeliveryFailedError)
    await clock.advance(10_000)
    expect(seen).toHaveLength(1)
    expect(outbox.failed.value[0]?.error.hint).toMatch(/request and ack/)
  })

  it('retries a portal page, then takes the real answer', async () => {
    const { origin, seen } = await serve(
      raw(200, '<html>Wi-Fi login</html>', { 'content-type': 'text/html' }),
      raw(204, ''),
    )
    const { outbox, clock } = outboxOver({ url: origin, request: () => ({ body: undefined }) })
    const e = outbox.emit('chat:read', { chatId: 'c' })
    await until(() => outbox.pending.value[0]?.status === 'waiting')
    expect(outbox.pending.value[0]?.lastError).toMatchObject({ kind: 'invalid-ack', retryable: true })
    await clock.advance(100)
    await expect(outbox.delivered(e.emitId)).resolves.toEqual({ ok: true, emitId: e.emitId })
    expect(seen).toHaveLength(2)
  })
})
