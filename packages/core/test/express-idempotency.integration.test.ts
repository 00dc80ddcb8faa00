/**
 * A third-party server: an Express 5 app guarded by express-idempotency (from npm), with the REST
 * routes an app already has, reached through `httpTransport({ request })` across a fault proxy on
 * 127.0.0.1 that cuts connections before and after the app applies, answers 503 and answers late.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import express, { type NextFunction, type Request, type Response } from 'express'
import { getSharedIdempotencyService, idempotency } from 'express-idempotency'
import { afterEach, describe, expect, it } from 'vitest'
import { DeliveryFailedError } from '../src/errors.ts'
import { httpTransport } from '../src/http-transport.ts'
import { createOutbox } from '../src/outbox.ts'
import type { Outbox } from '../src/types.ts'
import { prng } from './fault-server.ts'
import { listenLocal } from './helpers.ts'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

const listen = async (server: Server) => {
  const { origin, close } = await listenLocal(server)
  cleanups.push(close)
  return origin
}

/**
 * The app: `POST /api/chats/:chatId/messages` answers 201 `{ id, text }`, `POST
 * /api/chats/:chatId/read` answers 204. Each route counts its applications per event key and logs
 * the order in which each chat saw its events.
 */
async function startApp() {
  const applied = new Map<string, number>()
  const chatLog = new Map<string, number[]>()
  const apply = (chatId: string, key: string, seq: number) => {
    applied.set(key, (applied.get(key) ?? 0) + 1)
    chatLog.set(chatId, [...(chatLog.get(chatId) ?? []), seq])
  }
  const app = express()
  const guard = idempotency()
  const service = getSharedIdempotencyService()
  app.post('/api/chats/:chatId/messages', express.json(), guard, (req: Request, res: Response) => {
    // express-idempotency calls next() after replaying its cached answer: the route must not apply again.
    if (service.isHit(req)) return
    const { messageId, text, seq } = req.body
    apply(String(req.params.chatId), messageId, seq)
    res.status(201).json({ id: `srv-${messageId}`, text })
  })
  app.post('/api/chats/:chatId/read', express.json(), guard, (req: Request, res: Response) => {
    if (service.isHit(req)) return
    const { receiptId, seq } = req.body
    apply(String(req.params.chatId), receiptId, seq)
    res.sendStatus(204)
  })
  // The middleware's 409 (same key still in progress) and its other errors, without a stack in the log.
  app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
    res.status(res.statusCode >= 400 ? res.statusCode : 500).json({ message: error.message })
  })
  const origin = await listen(createServer(app))
  return { origin, applied, chatLog }
}

type Fault = 'none' | 'drop-before' | '503' | '503-retry-after' | 'drop-after' | 'slow' | 'late'
const FAULTS: Array<[Fault, number]> = [
  ['drop-before', 0.05],
  ['503', 0.03],
  ['503-retry-after', 0.03],
  ['drop-after', 0.07],
  ['slow', 0.05],
  ['late', 0.02],
]

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A proxy in front of the app that injects faults, drawn from a seeded PRNG, and counts them. */
async function startFaultProxy(upstream: string, seed: number, lateMs: number) {
  const random = prng(seed)
  const faults = new Map<Fault, number>()
  const pick = (): Fault => {
    let r = random()
    for (const [fault, p] of FAULTS) {
      if (r < p) return fault
      r -= p
    }
    return 'none'
  }
  const server = createServer(async (req, res) => {
    try {
      const body = await readBody(req)
      const fault = pick()
      faults.set(fault, (faults.get(fault) ?? 0) + 1)
      if (fault === 'drop-before') return req.socket.destroy()
      if (fault === '503' || fault === '503-retry-after') {
        res.writeHead(503, {
          'content-type': 'application/json',
          ...(fault === '503-retry-after' ? { 'retry-after': '0' } : {}),
        })
        return res.end('{"message":"Service Unavailable"}')
      }
      const headers: Record<string, string> = {}
      for (const name of ['content-type', 'idempotency-key', 'authorization'])
        if (typeof req.headers[name] === 'string') headers[name] = req.headers[name]
      const answer = await fetch(`${upstream}${req.url}`, {
        method: req.method,
        headers,
        ...(body.length > 0 ? { body } : {}),
      })
      const text = Buffer.from(await answer.arrayBuffer())
      // The app applied the event; the client never hears of it.
      if (fault === 'drop-after') return req.socket.destroy()
      if (fault === 'slow') await sleep(20 + random() * 40)
      if (fault === 'late') await sleep(lateMs)
      if (res.destroyed) return
      const type = answer.headers.get('content-type')
      res.writeHead(answer.status, type ? { 'content-type': type } : {})
      res.end(text)
    } catch {
      req.socket.destroy()
    }
  })
  return { origin: await listen(server), faults }
}

describe('an Express 5 app with express-idempotency, through httpTransport request', () => {
  it('applies 1,000 events over 20 lanes once each, in lane order, through cuts, 503s and slow answers', async () => {
    const started = Date.now()
    const app = await startApp()
    const timeoutMs = 300
    const proxy = await startFaultProxy(app.origin, 16, timeoutMs + 150)
    const outbox: Outbox = createOutbox({
      transport: httpTransport({
        url: `${proxy.origin}/api/`,
        timeoutMs,
        request: (e) =>
          e.event === 'chat:read'
            ? { url: `chats/${e.payload.chatId}/read`, body: { receiptId: e.payload.receiptId, seq: e.payload.seq } }
            : {
                url: `chats/${e.payload.chatId}/messages`,
                body: { messageId: e.payload.messageId, text: e.payload.text, seq: e.payload.seq },
              },
      }),
      retry: { baseMs: 5, maxMs: 50 },
      breaker: { cooldownMs: 20 },
      concurrency: 10,
      random: prng(17),
    })
    cleanups.push(() => outbox.close())

    const LANES = 20
    const PER_LANE = 50
    const emitted: Array<{ emitId: string; event: string; key: string; chatId: string }> = []
    for (let i = 0; i < LANES * PER_LANE; i++) {
      const chatId = `chat-${i % LANES}`
      const seq = Math.floor(i / LANES)
      // Every fifth event of a chat is a read receipt (204), the rest are messages (201).
      const e =
        seq % 5 === 4
          ? outbox.emit('chat:read', { chatId, receiptId: `r-${i}`, seq })
          : outbox.emit('user:message', { chatId, messageId: `m-${i}`, text: `message ${i}`, seq })
      emitted.push({ emitId: e.emitId, event: e.event, key: `${e.event === 'chat:read' ? 'r' : 'm'}-${i}`, chatId })
    }
    const acks = await Promise.all(emitted.map((e) => outbox.delivered(e.emitId)))
    const seconds = (Date.now() - started) / 1000

    // Acks as the app's API gave them, read by the default ack: 201 { id, text } and 204 {}.
    emitted.forEach((e, i) => {
      const i0 = Number(e.key.slice(2))
      expect(acks[i]).toEqual(
        e.event === 'chat:read'
          ? { ok: true, emitId: e.emitId }
          : { ok: true, emitId: e.emitId, id: `srv-m-${i0}`, text: `message ${i0}` },
      )
    })
    const lost = emitted.filter((e) => !app.applied.has(e.key)).length
    const duplicated = [...app.applied.values()].filter((n) => n > 1).length
    const expectedOrder = Array.from({ length: PER_LANE }, (_, seq) => seq)
    const reordered = [...app.chatLog.values()].filter(
      (log) => log.length !== PER_LANE || log.some((seq, k) => seq !== expectedOrder[k]),
    ).length
    const faults = Object.fromEntries(proxy.faults)
    console.info(
      `express-idempotency: ${emitted.length} events over ${LANES} lanes, faults ${JSON.stringify(faults)}: ` +
        `lost ${lost}, duplicated ${duplicated}, reordered lanes ${reordered}, ${seconds.toFixed(2)} s`,
    )
    expect({ lost, duplicated, reordered }).toEqual({ lost: 0, duplicated: 0, reordered: 0 })
    expect(app.applied.size).toBe(LANES * PER_LANE)
    expect(app.chatLog.size).toBe(LANES)
    expect(outbox.failed.value).toEqual([])
    expect(outbox.size.value).toBe(0)
    for (const [fault] of FAULTS) expect(proxy.faults.get(fault) ?? 0).toBeGreaterThan(0)
  }, 60_000)

  it('fails envelopes sent without request at once, with a hint, instead of retrying forever in silence', async () => {
    const app = await startApp()
    const outbox = createOutbox({
      // The first try: the route answers each envelope 201 { id, text }, which is no outbox ack.
      transport: httpTransport({ url: `${app.origin}/api/chats/c1/messages` }),
      retry: { baseMs: 5, maxMs: 50 },
    })
    cleanups.push(() => outbox.close())
    const failures: string[] = []
    outbox.on('outbox:failed', ({ error }) => failures.push(error.hint ?? ''))
    const ids = [1, 2, 3].map((n) => outbox.emit('user:message', { chatId: 'c1', messageId: `m${n}` }).emitId)
    for (const id of ids) await expect(outbox.delivered(id)).rejects.toBeInstanceOf(DeliveryFailedError)
    expect(failures).toHaveLength(3)
    for (const hint of failures) expect(hint).toMatch(/request and ack/)
    expect(outbox.failed.value.map((f) => [f.attempts, f.error.kind, f.error.retryable])).toEqual(
      ids.map(() => [1, 'invalid-ack', false]),
    )
  })
})
