import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createOutboxHandler, memoryStore } from '@outbox/server'

/** What the server does to each `POST /events`; set with `POST /control`. */
export type FaultMode =
  /** Every request applied and answered. */
  | { mode: 'clean' }
  /**
   * The flaky server: 20% of connections cut after the server applied the request, 8%
   * answered 503 without applying (half of those with `Retry-After: 1`), 10% answered after a
   * delay of 100–1000 ms; the rest at once.
   */
  | { mode: 'mix'; seed: number }
  /** Down for `ms`: every request answered 503 (no `Retry-After`), then clean again. */
  | { mode: 'down'; ms: number }

export const MIX = { dropAfter: 0.2, unavailable: 0.08, delayed: 0.1, delayMinMs: 100, delayMaxMs: 1000 }

/** FNV-1a, for keying the fault draws by item. */
const hash = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** Two uniform draws in [0, 1) from a 32-bit key (mulberry32). */
const draws = (key: number): [number, number] => {
  let a = key >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return [next(), next()]
}

/** The `messageId` of the first event of a request (single or batch body). */
const firstMessageId = (text: string): string => {
  try {
    const body = JSON.parse(text) as {
      envelopes?: Array<{ payload?: { messageId?: string } }>
      payload?: { messageId?: string }
    }
    return String((body.envelopes?.[0] ?? body).payload?.messageId ?? '')
  } catch {
    return ''
  }
}

const readBody = async (req: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/**
 * An @outbox/server on node:http (127.0.0.1) with faults in front of it, for the goodput figures.
 * The handler applies each emitId once (a resend after a cut connection gets the stored ack), so
 * the client and the hand-written loop see the same server. `POST /control` with a `FaultMode`
 * switches mode and answers `{ until }` (ms since epoch) for `down`.
 *
 * In `mix` mode the fault of a request is drawn from the seed, the `messageId` of its first event
 * and how many requests with that first event came before (common random numbers): an outbox run
 * and a loop run with the same seed meet the same faults on the same attempts, so their ratio
 * shows what each does with them rather than which got the luckier draws.
 */
export async function startFaultServer(): Promise<{ url: string; server: Server }> {
  const handle = createOutboxHandler({ apply: () => undefined, store: memoryStore({ maxEntries: 200_000 }) })
  let mode: FaultMode = { mode: 'clean' }
  let downUntil = 0
  let attempts = new Map<string, number>()
  const server = createServer(async (req, res) => {
    try {
      const body = await readBody(req)
      const path = (req.url ?? '/').split('?')[0]
      if (path === '/control') {
        mode = JSON.parse(body.toString('utf8')) as FaultMode
        downUntil = mode.mode === 'down' ? Date.now() + mode.ms : 0
        attempts = new Map()
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ until: downUntil }))
        return
      }
      const unavailable = (retryAfter?: string) => {
        res.writeHead(503, { 'content-type': 'application/json', ...(retryAfter ? { 'retry-after': retryAfter } : {}) })
        res.end(JSON.stringify({ ok: false, code: 'unavailable' }))
      }
      if (mode.mode === 'down' && Date.now() < downUntil) return unavailable()
      let x = 1
      let d = 0
      if (mode.mode === 'mix') {
        const first = firstMessageId(body.toString('utf8'))
        const attempt = (attempts.get(first) ?? 0) + 1
        attempts.set(first, attempt)
        ;[x, d] = draws(hash(`${mode.seed}:${first}:${attempt}`))
      }
      if (x < MIX.unavailable) return unavailable(x < MIX.unavailable / 2 ? '1' : undefined)
      x -= MIX.unavailable
      const headers = new Headers()
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value)
      const response = await handle(
        new Request(`http://127.0.0.1${req.url ?? '/'}`, {
          method: req.method ?? 'POST',
          headers,
          body: body.toString('utf8'),
        }),
      )
      const text = await response.text()
      if (x < MIX.dropAfter) {
        req.socket.destroy()
        return
      }
      x -= MIX.dropAfter
      if (x < MIX.delayed)
        await new Promise((r) => setTimeout(r, MIX.delayMinMs + d * (MIX.delayMaxMs - MIX.delayMinMs)))
      res.writeHead(response.status, Object.fromEntries(response.headers))
      res.end(text)
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' })
      res.end(String(error))
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, server }
}
