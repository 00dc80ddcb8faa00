import { createServer } from 'node:http'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createOutboxHandler } from '../src/handler.ts'
import { toNodeListener } from '../src/node.ts'
import type { Envelope } from '../src/types.ts'
import { deferred, envelope, listen, recorder, ulidOf } from './helpers.ts'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.()
})

function outboxHandler(options: { maxBodyBytes?: number; apply?: (e: Envelope) => unknown } = {}) {
  const log = recorder()
  const handler = createOutboxHandler({
    apply: async (e) => {
      log.calls.push(e)
      return (options.apply?.(e) ?? { serverId: `s-${e.emitId.slice(-4)}` }) as never
    },
    onError: vi.fn(),
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
  })
  return { handler, log }
}

async function nodeServer(handler: (request: Request) => Promise<Response>) {
  const server = listen(createServer(toNodeListener(handler)))
  const { url, close } = await server
  cleanups.push(close)
  return url
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })

describe('toNodeListener on a real node:http server', () => {
  it('delivers a single envelope and replays it on a repeat', async () => {
    const { handler, log } = outboxHandler()
    const url = await nodeServer(handler)
    const e = envelope(1)
    const first = await post(url, e, { 'idempotency-key': `"${e.emitId}"` })
    expect(first.status).toBe(200)
    expect(first.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(await first.json()).toEqual({ ok: true, emitId: e.emitId, serverId: 's-0001' })
    const again = await post(url, e, { 'idempotency-key': `"${e.emitId}"` })
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(await again.json()).toEqual({ ok: true, emitId: e.emitId, serverId: 's-0001' })
    expect(log.calls).toHaveLength(1)
  })

  it('delivers a batch', async () => {
    const { handler, log } = outboxHandler()
    const url = await nodeServer(handler)
    const response = await post(url, { envelopes: [envelope(1), envelope(2)] })
    expect(await response.json()).toEqual({
      results: [
        { ok: true, emitId: ulidOf(1), serverId: 's-0001' },
        { ok: true, emitId: ulidOf(2), serverId: 's-0002' },
      ],
    })
    expect(log.calls).toHaveLength(2)
  })

  it('sends the length of the (buffered) answer, not a chunked body', async () => {
    const { handler } = outboxHandler()
    const url = await nodeServer(handler)
    const response = await post(url, { envelopes: [envelope(1), envelope(2)] })
    const text = await response.text()
    expect(response.headers.get('content-length')).toBe(String(Buffer.byteLength(text)))
    expect(response.headers.get('transfer-encoding')).toBeNull()
  })

  it('answers 409 to a concurrent duplicate over the network', async () => {
    const gate = deferred()
    const entered = deferred()
    const { handler, log } = outboxHandler({
      apply: async () => {
        entered.resolve()
        await gate.promise
      },
    })
    const url = await nodeServer(handler)
    const first = post(url, envelope(1))
    await entered.promise
    const second = await post(url, envelope(1))
    expect(second.status).toBe(409)
    expect(await second.json()).toMatchObject({ code: 'in-progress', retryable: true })
    gate.resolve()
    expect((await first).status).toBe(200)
    expect(log.calls).toHaveLength(1)
  })

  it('answers 400 to invalid JSON and 405 to GET', async () => {
    const { handler, log } = outboxHandler()
    const url = await nodeServer(handler)
    const invalid = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })
    expect(invalid.status).toBe(400)
    expect(await invalid.json()).toEqual({
      ok: false,
      code: 'bad-request',
      message: 'The request body is not valid JSON.',
    })
    const get = await fetch(url)
    expect(get.status).toBe(405)
    expect(get.headers.get('allow')).toBe('POST')
    expect(log.calls).toHaveLength(0)
  })

  it('answers 413 to a body over the limit announced by Content-Length', async () => {
    const { handler, log } = outboxHandler({ maxBodyBytes: 1_000 })
    const url = await nodeServer(handler)
    const response = await post(url, envelope(1, { payload: { text: 'x'.repeat(2_000) } }))
    expect(response.status).toBe(413)
    expect(await response.json()).toMatchObject({ ok: false, code: 'too-large' })
    expect(log.calls).toHaveLength(0)
  })

  it('answers 413 to a chunked body as it passes the limit, and keeps serving', async () => {
    const { handler, log } = outboxHandler({ maxBodyBytes: 64 * 1024 })
    const url = await nodeServer(handler)
    const chunk = new TextEncoder().encode(' '.repeat(16 * 1024))
    let sent = 0
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (++sent > 64)
          controller.close() // 1 MiB in all, far past the limit
        else controller.enqueue(chunk)
      },
    })
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit)
    expect(response.status).toBe(413)
    expect(log.calls).toHaveLength(0)
    expect((await post(url, envelope(2))).status).toBe(200)
  })

  it('passes headers, the URL and an abort signal to the handler', async () => {
    let seen: Request | undefined
    const url = await nodeServer(async (request) => {
      seen = request
      return new Response(null, {
        status: 204,
        headers: [
          ['set-cookie', 'a=1'],
          ['set-cookie', 'b=2'],
        ],
      })
    })
    const response = await fetch(`${url}?x=1`, { method: 'POST', headers: { 'x-user': 'u1' }, body: 'hi' })
    expect(response.status).toBe(204)
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2'])
    expect(seen?.headers.get('x-user')).toBe('u1')
    expect(seen && new URL(seen.url).pathname + new URL(seen.url).search).toBe('/api/events?x=1')
    expect(seen?.signal).toBeInstanceOf(AbortSignal)
  })

  it('answers 500 when the handler throws', async () => {
    const url = await nodeServer(() => Promise.reject(new Error('bug')))
    const response = await fetch(url, { method: 'POST' })
    expect(response.status).toBe(500)
    expect(await response.json()).toMatchObject({ ok: false, code: 'internal', retryable: true })
  })

  it('aborts the request signal when the client disconnects', async () => {
    const aborted = deferred()
    const entered = deferred()
    const url = await nodeServer((request) => {
      request.signal.addEventListener('abort', () => aborted.resolve())
      entered.resolve()
      return new Promise<Response>(() => {})
    })
    const client = new AbortController()
    const pending = fetch(url, { method: 'POST', body: '{}', signal: client.signal }).catch(() => 'aborted')
    await entered.promise
    client.abort()
    expect(await pending).toBe('aborted')
    await aborted.promise
  })
})

describe('with Hono', () => {
  it('mounts on a route with c.req.raw and passes locals', async () => {
    const log = recorder()
    const handler = createOutboxHandler<{ user: string }>({
      apply: (e, context) => {
        log.calls.push(e)
        return { by: context.locals.user }
      },
    })
    const app = new Hono()
    app.post('/api/events', (c) => handler(c.req.raw, { user: c.req.header('x-user') ?? 'anonymous' }))
    const e = envelope(1)
    const response = await app.request('/api/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `"${e.emitId}"`, 'x-user': 'u1' },
      body: JSON.stringify(e),
    })
    expect(await response.json()).toEqual({ ok: true, emitId: e.emitId, by: 'u1' })
    expect(log.calls).toHaveLength(1)
  })

  it('serves through @hono/node-server on 127.0.0.1', async () => {
    const { handler, log } = outboxHandler()
    const app = new Hono()
    app.post('/api/events', (c) => handler(c.req.raw))
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 })
    await new Promise<void>((resolve) => server.once('listening', () => resolve()))
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const { port } = server.address() as import('node:net').AddressInfo
    const url = `http://127.0.0.1:${port}/api/events`
    const response = await post(url, { envelopes: [envelope(1), envelope(2, { lane: 'c2' })] })
    expect(await response.json()).toEqual({
      results: [
        { ok: true, emitId: ulidOf(1), serverId: 's-0001' },
        { ok: true, emitId: ulidOf(2), serverId: 's-0002' },
      ],
    })
    expect((await post(url, envelope(1, { event: 'changed' }))).status).toBe(422)
    expect(log.calls).toHaveLength(2)
  })
})
