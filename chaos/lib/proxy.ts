import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Random } from './random.ts'

/** Every fault the proxy injects. "after" faults happen once the server has applied the events. */
export const FAULT_KINDS = [
  'drop-before', // connection destroyed before the request reaches the server
  'drop-after', // the server applied it; the connection is destroyed instead of answering
  'truncate-after', // applied; half of the answer, then the connection is destroyed
  'stall-after', // applied; no answer at all (the client times out)
  'stall-body', // applied; headers and half the body, then silence with the connection open
  'delay', // applied; the answer is held 50–1000 ms
  'reorder', // applied; the answer is held until a later answer has gone out
  '5xx', // 500/502/504 without reaching the server
  '5xx-after', // applied, but the client sees a 502
  '429', // Too Many Requests with a small Retry-After
  '503', // Service Unavailable with a small Retry-After (opens the client's breaker)
  'html-200', // a captive portal's 200 text/html page
  'offline-drop', // the client's network is down: connection refused at once
] as const
export type FaultKind = (typeof FAULT_KINDS)[number]

export type FaultRates = Partial<Record<Exclude<FaultKind, 'offline-drop'>, number>>

type Upstream = { status: number; headers: Record<string, string>; body: Buffer }

const readBody = async (req: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/**
 * A fault-injecting HTTP proxy on 127.0.0.1 in front of the events server. `GET /` and
 * `GET /bundle.js` serve the browser page (never faulted); every POST is forwarded, or not,
 * according to the fault rates. Clients named in `offline` (header `x-client`) are cut off.
 */
export async function startProxy(options: {
  /** The events server, or a function that picks one per request (round-robin over instances). */
  upstream: string | (() => string)
  rand: Random
  rates: FaultRates
  page: () => Promise<{ html: string; bundle: string }>
  /** Called with each POST's fault (or 'none') and body, for debugging a run. */
  onRequest?: (fault: FaultKind | 'none', body: Buffer) => void
}) {
  const { rand } = options
  const { upstream: target } = options
  const upstreamOf = typeof target === 'function' ? target : () => target
  const agent = new Agent({ keepAlive: true, maxSockets: 256 })
  const counts = new Map<FaultKind, number>()
  const offline = new Set<string>()
  let enabled = true
  let requests = 0
  let parked: Array<() => void> = []
  const stalled = new Set<ServerResponse>()

  const count = (kind: FaultKind) => counts.set(kind, (counts.get(kind) ?? 0) + 1)

  const pickFault = (): FaultKind | undefined => {
    if (!enabled) return undefined
    let x = rand()
    for (const [kind, rate] of Object.entries(options.rates) as Array<[FaultKind, number]>) {
      if (x < rate) return kind
      x -= rate
    }
    return undefined
  }

  const forward = (req: IncomingMessage, body: Buffer): Promise<Upstream> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string | string[]> = {}
      for (const [name, value] of Object.entries(req.headers))
        if (value !== undefined && name !== 'connection' && name !== 'keep-alive') headers[name] = value
      headers['content-length'] = String(body.length)
      const upstream = request(`${upstreamOf()}${req.url ?? '/'}`, { method: req.method, headers, agent }, (res) => {
        readBody(res).then((buffer) => {
          const out: Record<string, string> = {}
          for (const [name, value] of Object.entries(res.headers))
            if (typeof value === 'string' && !['connection', 'keep-alive', 'transfer-encoding'].includes(name))
              out[name] = value
          resolve({ status: res.statusCode ?? 502, headers: out, body: buffer })
        }, reject)
      })
      upstream.on('error', reject)
      upstream.end(body)
    })

  const releaseParked = () => {
    const list = parked
    parked = []
    for (const release of list) release()
  }

  const reply = (res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer | string) => {
    if (res.destroyed || res.writableEnded) return
    res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) })
    res.end(body)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET') {
      const page = await options.page()
      if (req.url?.startsWith('/bundle.js'))
        return reply(res, 200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' }, page.bundle)
      if (req.url === '/favicon.ico') return reply(res, 404, {}, '')
      return reply(res, 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }, page.html)
    }
    const client = String(req.headers['x-client'] ?? '')
    if (enabled && offline.has(client)) {
      count('offline-drop')
      return req.socket.destroy()
    }
    const body = await readBody(req)
    requests++
    const fault = pickFault()
    if (fault) count(fault)
    options.onRequest?.(fault ?? 'none', body)
    switch (fault) {
      case 'drop-before':
        return req.socket.destroy()
      case '5xx':
        return reply(
          res,
          rand.pick([500, 502, 504]),
          { 'content-type': rand.chance(0.5) ? 'application/json' : 'text/html' },
          rand.chance(0.5) ? '{"ok":false,"code":"upstream"}' : '<html>Bad gateway</html>',
        )
      case '429':
        return reply(res, 429, { 'content-type': 'application/json', 'retry-after': rand.pick(['0', '0', '1']) }, '{}')
      case '503':
        return reply(res, 503, { 'content-type': 'text/plain', 'retry-after': rand.pick(['0', '1']) }, 'busy')
      case 'html-200':
        return reply(res, 200, { 'content-type': 'text/html' }, '<html><body>Sign in to the Wi-Fi</body></html>')
    }
    let answer: Upstream
    try {
      answer = await forward(req, body)
    } catch {
      return req.socket.destroy()
    }
    const send = () => {
      reply(res, answer.status, answer.headers, answer.body)
      if (fault !== 'reorder') releaseParked()
    }
    switch (fault) {
      case 'drop-after':
        return req.socket.destroy()
      case 'truncate-after': {
        if (res.destroyed) return
        res.writeHead(answer.status, { ...answer.headers, 'content-length': String(answer.body.length) })
        res.write(answer.body.subarray(0, Math.floor(answer.body.length / 2)))
        return setTimeout(() => req.socket.destroy(), 5)
      }
      case 'stall-after':
        // Never answered; the client's timeout gives up on it. Cleaned up at the end of the run.
        stalled.add(res)
        res.on('close', () => stalled.delete(res))
        return
      case 'stall-body': {
        if (res.destroyed) return
        res.writeHead(answer.status, { ...answer.headers, 'content-length': String(answer.body.length) })
        res.write(answer.body.subarray(0, Math.floor(answer.body.length / 2)))
        stalled.add(res)
        res.on('close', () => stalled.delete(res))
        return
      }
      case '5xx-after':
        return reply(res, 502, { 'content-type': 'text/html' }, '<html>Bad gateway</html>')
      case 'delay':
        return void setTimeout(send, rand.int(50, 1000))
      case 'reorder': {
        let sent = false
        const once = () => {
          if (sent) return
          sent = true
          send()
        }
        parked.push(once)
        return void setTimeout(once, rand.int(100, 400))
      }
      default:
        return send()
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy())
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    counts,
    offline,
    requests: () => requests,
    /** Stops injecting faults (and cutting off offline clients). */
    calm() {
      enabled = false
      offline.clear()
      releaseParked()
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of stalled) res.destroy()
        agent.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export type FaultProxy = Awaited<ReturnType<typeof startProxy>>
