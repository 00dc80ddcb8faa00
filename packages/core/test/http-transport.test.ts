import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import ky from 'ky'
import { afterEach, describe, expect, it } from 'vitest'
import { httpTransport } from '../src/http-transport.ts'
import type { EmitEnvelope } from '../src/types.ts'

type Handler = (
  body: unknown,
  headers: Record<string, string | string[] | undefined>,
) => { status?: number; headers?: Record<string, string>; body: string; delayMs?: number }

let closeServer: (() => Promise<void>) | undefined
afterEach(async () => {
  await closeServer?.()
  closeServer = undefined
})

/** A real server on 127.0.0.1 answering each request through `handler`. */
async function serve(handler: Handler) {
  const seen: Array<{ body: unknown; headers: Record<string, string | string[] | undefined> }> = []
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null')
    seen.push({ body, headers: req.headers })
    const out = handler(body, req.headers)
    if (out.delayMs) await new Promise((r) => setTimeout(r, out.delayMs))
    if (res.destroyed) return
    res.writeHead(out.status ?? 200, { 'content-type': 'application/json', ...out.headers })
    res.end(out.body)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  closeServer = () =>
    new Promise((r) => {
      server.closeAllConnections()
      server.close(() => r())
    })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, seen }
}

const envelope = (n: number, extra: Partial<EmitEnvelope> = {}): EmitEnvelope => ({
  emitId: `01JD000000000000000000000${n}`,
  event: 'user:message',
  payload: { text: `m${n}` },
  lane: 'c1',
  createdAt: 1_700_000_000_000 + n,
  ...extra,
})
const signal = () => new AbortController().signal
const ackFor = (body: unknown) => JSON.stringify({ ok: true, emitId: (body as EmitEnvelope).emitId, id: 'srv-1' })

describe('httpTransport', () => {
  it('posts one envelope as JSON with a quoted Idempotency-Key and reads the ack', async () => {
    const { url, seen } = await serve((body) => ({ body: ackFor(body) }))
    const t = httpTransport({ url })
    const e = envelope(1, { keys: { messageId: 'm1' } })
    const results = await t.send([e], signal())
    expect(results).toEqual([{ emitId: e.emitId, ok: true, ack: { ok: true, emitId: e.emitId, id: 'srv-1' } }])
    expect(seen[0]?.headers['idempotency-key']).toBe(`"${e.emitId}"`)
    expect(seen[0]?.headers['content-type']).toMatch(/application\/json/)
    expect(seen[0]?.body).toEqual(e)
    expect(t.maxBatch).toBe(1)
  })

  it('computes headers per send and never keeps them in the envelope', async () => {
    const { url, seen } = await serve((body) => ({ body: ackFor(body) }))
    let n = 0
    const t = httpTransport({ url, headers: async () => ({ authorization: `Bearer t${++n}` }) })
    await t.send([envelope(1)], signal())
    await t.send([envelope(2)], signal())
    expect(seen.map((s) => s.headers.authorization)).toEqual(['Bearer t1', 'Bearer t2'])
    expect(JSON.stringify(seen.map((s) => s.body))).not.toMatch(/Bearer/)
  })

  it('posts a batch as { envelopes } and matches { results } by emitId', async () => {
    const { url, seen } = await serve((body) => {
      const list = (body as { envelopes: EmitEnvelope[] }).envelopes
      return { body: JSON.stringify({ results: [...list].reverse().map((e) => ({ ok: true, emitId: e.emitId })) }) }
    })
    const t = httpTransport({ url, batch: { maxItems: 20 } })
    expect(t.maxBatch).toBe(20)
    const batch = [envelope(1), envelope(2), envelope(3)]
    const results = await t.send(batch, signal())
    expect(results.map((r) => [r.emitId, r.ok])).toEqual(batch.map((e) => [e.emitId, true]))
    expect(seen[0]?.body).toEqual({ envelopes: batch })
    expect(seen[0]?.headers['idempotency-key']).toBeUndefined()
    expect(httpTransport({ url, batch: true }).maxBatch).toBe(50)
  })

  it('retries the envelopes a batch answer leaves unmatched, and reads rejections', async () => {
    const { url } = await serve((body) => {
      const [a, , c] = (body as { envelopes: EmitEnvelope[] }).envelopes
      return {
        body: JSON.stringify({
          results: [
            { ok: true, emitId: a?.emitId },
            { ok: true, emitId: 'someone-else' },
            { ok: false, emitId: c?.emitId, code: 'too-long', hint: 'Shorten it.' },
          ],
        }),
      }
    })
    const results = await httpTransport({ url, batch: true }).send([envelope(1), envelope(2), envelope(3)], signal())
    expect(results[0]).toMatchObject({ ok: true })
    expect(results[1]).toMatchObject({ ok: false, error: { kind: 'invalid-ack', retryable: true } })
    expect(results[2]).toMatchObject({
      ok: false,
      error: { kind: 'rejected', code: 'too-long', retryable: false, hint: 'Shorten it.' },
    })
  })

  it('matches positional rejections without emitId when the lengths agree', async () => {
    const { url } = await serve(() => ({
      body: JSON.stringify({ results: [{ ok: false, code: 'x', retryable: true }] }),
    }))
    const [r] = await httpTransport({ url, batch: true }).send([envelope(1)], signal())
    expect(r).toMatchObject({ ok: false, error: { kind: 'rejected', code: 'x', retryable: true } })
  })

  it.each([
    ['an HTML page (captive portal)', { headers: { 'content-type': 'text/html' }, body: '<html>Sign in</html>' }],
    ['truncated JSON', { body: '{"ok":tr' }],
    ['an ack for another event', { body: JSON.stringify({ ok: true, emitId: 'other' }) }],
    ['a rejection without a code', { body: JSON.stringify({ ok: false }) }],
    ['a batch answer to a single send', { body: JSON.stringify({ results: [] }) }],
  ])('takes a 2xx with %s as invalid-ack to retry, never as delivered', async (_name, answer) => {
    const { url } = await serve(() => answer)
    const [r] = await httpTransport({ url }).send([envelope(1)], signal())
    expect(r).toMatchObject({ ok: false, error: { kind: 'invalid-ack', retryable: true } })
  })

  it.each([
    ['an empty object', '{}'],
    ['a JSON array', '[]'],
    ['a REST resource', JSON.stringify({ id: 'm1', text: 'hi' })],
    ['ok as a string', JSON.stringify({ ok: 'true' })],
  ])('fails a 2xx with %s at once, with a hint naming request and ack', async (_name, body) => {
    const { url } = await serve(() => ({ status: 201, body }))
    const [r] = await httpTransport({ url }).send([envelope(1)], signal())
    expect(r).toMatchObject({ ok: false, error: { kind: 'invalid-ack', retryable: false } })
    const hint = r?.ok === false ? r.error.hint : ''
    expect(hint).toMatch(/request/)
    expect(hint).toMatch(/ack/)
  })

  it('classifies statuses and extracts Retry-After on 429 and 503 only', async () => {
    const date = new Date(Date.now() + 60_000).toUTCString()
    const answers = [
      { status: 429, headers: { 'retry-after': '7' }, body: '{}' },
      { status: 503, headers: { 'retry-after': date }, body: '{}' },
      { status: 500, headers: { 'retry-after': '7' }, body: '{}' },
      { status: 403, body: JSON.stringify({ message: 'Not your chat', hint: 'Ask to be added.' }) },
      { status: 409, body: '{}' },
      { status: 422, body: '{}' },
    ]
    let i = 0
    const { url } = await serve(() => answers[i++] as ReturnType<Handler>)
    const t = httpTransport({ url })
    const r = []
    for (let k = 0; k < answers.length; k++) r.push((await t.send([envelope(k)], signal()))[0])
    expect(r[0]).toMatchObject({ ok: false, retryAfterMs: 7000, error: { kind: 'http', code: 429, retryable: true } })
    expect(r[1]).toMatchObject({ ok: false, error: { code: 503, retryable: true } })
    const wait = (r[1] as { retryAfterMs: number }).retryAfterMs
    expect(wait).toBeGreaterThan(55_000)
    expect(wait).toBeLessThanOrEqual(60_000)
    expect(r[2]).not.toHaveProperty('retryAfterMs')
    expect(r[3]).toMatchObject({
      error: { code: 403, retryable: false, message: 'Not your chat', hint: 'Ask to be added.' },
    })
    expect(r[4]).toMatchObject({ error: { code: 409, retryable: true } })
    expect(r[5]).toMatchObject({ error: { code: 422, retryable: false } })
  })

  it('gives up after timeoutMs with a retryable network error', async () => {
    const { url } = await serve((body) => ({ body: ackFor(body), delayMs: 300 }))
    const [r] = await httpTransport({ url, timeoutMs: 50 }).send([envelope(1)], signal())
    expect(r).toMatchObject({
      ok: false,
      error: { kind: 'network', retryable: true, message: expect.stringMatching(/50 ms/) },
    })
  })

  it('throws on a refused connection (the outbox retries it as a network error)', async () => {
    const { url } = await serve((body) => ({ body: ackFor(body) }))
    await closeServer?.()
    closeServer = undefined
    await expect(httpTransport({ url }).send([envelope(1)], signal())).rejects.toThrow()
  })

  it('turns off the retry of a custom ky instance', async () => {
    const { url, seen } = await serve(() => ({ status: 500, body: '{}' }))
    const custom = ky.create({ retry: 5, headers: { 'x-app': 'chat' } })
    const [r] = await httpTransport({ url, ky: custom }).send([envelope(1)], signal())
    expect(r).toMatchObject({ ok: false, error: { code: 500 } })
    expect(seen).toHaveLength(1)
    expect(seen[0]?.headers['x-app']).toBe('chat')
  })

  it('sends through a custom ky’s fetch, after its own beforeRequest hooks', async () => {
    const { url, seen } = await serve((body) => ({ body: ackFor(body) }))
    const fetched: string[] = []
    const custom = ky.create({
      fetch: (input, init) => {
        fetched.push(input instanceof Request ? (input.headers.get('x-hooked') ?? '') : 'not a request')
        return fetch(input, init)
      },
      hooks: { beforeRequest: [(request) => request.headers.set('x-hooked', 'yes')] },
    })
    const [r] = await httpTransport({ url, ky: custom }).send([envelope(1)], signal())
    expect(r).toMatchObject({ ok: true })
    expect(fetched).toEqual(['yes'])
    expect(seen).toHaveLength(1)
    expect(seen[0]?.headers['x-hooked']).toBe('yes')
  })

  it('sends the request that a custom ky’s beforeRequest hook puts in place', async () => {
    const { url, seen } = await serve((body) => ({ body: ackFor(body) }))
    const custom = ky.create({
      hooks: {
        beforeRequest: [
          (request) => new Request(request, { headers: { ...Object.fromEntries(request.headers), 'x-new': '1' } }),
        ],
      },
    })
    const [r] = await httpTransport({ url, ky: custom }).send([envelope(1)], signal())
    expect(r).toMatchObject({ ok: true })
    expect(seen).toHaveLength(1)
    expect(seen[0]?.headers['x-new']).toBe('1')
    expect(seen[0]?.headers['idempotency-key']).toBe(`"${envelope(1).emitId}"`)
  })

  it('reads the ack when the global Response is another class than fetch’s (as @hono/node-server sets it)', async () => {
    const { url, seen } = await serve((body) => ({ body: ackFor(body) }))
    const original = globalThis.Response
    // fetch still answers with its own Response, which is no instance of the replacement.
    globalThis.Response = class Replaced extends original {} as typeof Response
    try {
      const [r] = await httpTransport({ url }).send([envelope(1)], signal())
      expect(r).toEqual({ emitId: envelope(1).emitId, ok: true, ack: JSON.parse(ackFor(envelope(1))) })
      expect(seen).toHaveLength(1)
    } finally {
      globalThis.Response = original
    }
  })

  it('reads the ack from a custom ky’s fetch that answers with a Response-like object', async () => {
    const { url, seen } = await serve((body) => ({ status: 201, body: ackFor(body) }))
    const custom = ky.create({
      fetch: async (input, init) => {
        const { body, status, statusText, headers } = await fetch(input, init)
        return { body, status, statusText, headers } as Response
      },
    })
    const [r] = await httpTransport({ url, ky: custom }).send([envelope(2)], signal())
    expect(r).toMatchObject({ ok: true, ack: { emitId: envelope(2).emitId } })
    expect(seen).toHaveLength(1)
  })

  it('passes a custom ky’s undici dispatcher on to its fetch', async () => {
    const { url } = await serve((body) => ({ body: ackFor(body) }))
    const dispatcher = { marker: true }
    const given: unknown[] = []
    const custom = ky.create({
      fetch: async (input, init) => {
        given.push((init as { dispatcher?: unknown } | undefined)?.dispatcher)
        // A fresh request: Node's own Request would carry the fake dispatcher along.
        const request = input as Request
        return fetch(request.url, { method: 'POST', headers: request.headers, body: await request.text() })
      },
      dispatcher,
    } as Parameters<typeof ky.create>[0])
    const [r] = await httpTransport({ url, ky: custom }).send([envelope(1)], signal())
    expect(r).toMatchObject({ ok: true })
    expect(given).toEqual([dispatcher])
  })

  it('stops when the outbox aborts', async () => {
    const { url } = await serve((body) => ({ body: ackFor(body), delayMs: 300 }))
    const controller = new AbortController()
    const sending = httpTransport({ url }).send([envelope(1)], controller.signal)
    controller.abort()
    await expect(sending).rejects.toThrow()
  })

  it('sends page-hide beacons with keepalive, within the 64 KiB budget', async () => {
    const { url, seen } = await serve((body) => ({ body: ackFor(body) }))
    const t = httpTransport({ url, headers: () => ({ authorization: 'Bearer t' }) })
    await t.send([envelope(0)], signal()) // headers are remembered from the last send
    const big = (n: number) => envelope(n, { payload: { blob: 'x'.repeat(30 * 1024) } })
    t.sendBeacon?.([[big(1)], [big(2)], [big(3)]])
    for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((r) => setImmediate(r))
    for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r))
    expect(seen).toHaveLength(3)
    expect(seen.slice(1).map((s) => (s.body as EmitEnvelope).emitId)).toEqual([big(1).emitId, big(2).emitId])
    expect(seen[1]?.headers['idempotency-key']).toBe(`"${big(1).emitId}"`)
    expect(seen[1]?.headers.authorization).toBe('Bearer t')
  })

  it('sends one beacon request per group in batch mode', async () => {
    const { url, seen } = await serve(() => ({ body: '{}' }))
    httpTransport({ url, batch: { maxItems: 2 } }).sendBeacon?.([[envelope(1), envelope(2)], [envelope(3)]])
    for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((r) => setImmediate(r))
    const sizes = seen.map((s) => (s.body as { envelopes: EmitEnvelope[] }).envelopes.map((e) => e.emitId))
    expect(sizes.sort((a, b) => b.length - a.length)).toEqual([
      [envelope(1).emitId, envelope(2).emitId],
      [envelope(3).emitId],
    ])
  })

  it('counts reading the answer against timeoutMs (a body that never ends)', async () => {
    const server = createServer((req, res) => {
      req.resume()
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"ok":true,')
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    closeServer = () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      })
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`
    const [r] = await httpTransport({ url, timeoutMs: 100 }).send([envelope(1)], signal())
    expect(r).toMatchObject({ ok: false, error: { kind: 'network', retryable: true } })
  })

  it('does not read answers over 1 MiB: no ack is that big', async () => {
    const { url } = await serve((body) => ({
      body: JSON.stringify({ ok: true, emitId: (body as EmitEnvelope).emitId, junk: 'x'.repeat(1100 * 1024) }),
    }))
    const [r] = await httpTransport({ url }).send([envelope(1)], signal())
    expect(r).toMatchObject({ ok: false, error: { kind: 'invalid-ack' } })
  })

  it('reads an answer of declared length in one go, and none over 1 MiB', async () => {
    const sized = (text: string) => ({ body: text, headers: { 'content-length': String(Buffer.byteLength(text)) } })
    const { url } = await serve((body) =>
      (body as EmitEnvelope).emitId === envelope(1).emitId
        ? sized(ackFor(body))
        : sized(JSON.stringify({ ok: true, emitId: (body as EmitEnvelope).emitId, junk: 'x'.repeat(1100 * 1024) })),
    )
    const t = httpTransport({ url })
    expect((await t.send([envelope(1)], signal()))[0]).toMatchObject({ ok: true, ack: { id: 'srv-1' } })
    expect((await t.send([envelope(2)], signal()))[0]).toMatchObject({ ok: false, error: { kind: 'invalid-ack' } })
  })

  it('counts an answer cut short of its declared length as a network failure', async () => {
    const server = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' })
        res.write('{"ok":true,"emitId":"')
        setTimeout(() => res.destroy(), 20)
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    closeServer = () => new Promise((r) => server.close(() => r()))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`
    await expect(httpTransport({ url }).send([envelope(1)], signal())).rejects.toThrow()
  })

  it('rejects at once when the outbox already aborted', async () => {
    const { url, seen } = await serve((body) => ({ body: ackFor(body) }))
    const controller = new AbortController()
    controller.abort()
    await expect(httpTransport({ url }).send([envelope(1)], controller.signal)).rejects.toThrow()
    expect(seen).toHaveLength(0)
  })

  it('gives beacons the headers even before the first send', async () => {
    const { url, seen } = await serve(() => ({ body: '{}' }))
    httpTransport({ url, headers: { authorization: 'Bearer static' } }).sendBeacon?.([[envelope(1)]])
    httpTransport({ url, headers: () => ({ authorization: 'Bearer computed' }) }).sendBeacon?.([[envelope(2)]])
    for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((r) => setImmediate(r))
    expect(seen.map((s) => s.headers.authorization).sort()).toEqual(['Bearer computed', 'Bearer static'])
  })
})
