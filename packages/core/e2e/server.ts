import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { build, type PluginBuild } from 'esbuild'
import { applyInLaneOrder, createLedger } from '../test/ledger.ts'

/**
 * What the events endpoint does with the next request:
 * - `apply`: apply (idempotently) and answer with the ack(s);
 * - `hold`: keep the request open, unapplied, until `release()`;
 *   meanwhile its emitIds count as in progress and a repeat of them is answered 409;
 * - `fail`: answer 500 `{ ok: false, code: 'unavailable' }` without applying;
 * - `drop`: destroy the socket without applying or answering.
 */
export type Mode = 'apply' | 'hold' | 'fail' | 'drop'

export type WireEnvelope = {
  emitId: string
  event: string
  payload: Record<string, unknown>
  keys?: { messageId?: string; requestId?: string }
  lane: string
  createdAt: number
}

export type RequestRecord = {
  /** 1-based request number. */
  n: number
  /** `Date.now()` when the body was read. */
  at: number
  /** The `x-tab` header the page's transport sends: which tab sent this request. */
  tab: string | undefined
  batch: boolean
  emitIds: string[]
  /** What the server did with it. */
  outcome: Mode | 'conflict' | 'invalid'
  /** The HTTP status answered, once answered. */
  status?: number
}

type Held = { record: RequestRecord; finish: (then: Mode) => void }

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

const isEnvelope = (v: unknown): v is WireEnvelope =>
  isObject(v) &&
  typeof v.emitId === 'string' &&
  v.emitId.length > 0 &&
  typeof v.event === 'string' &&
  isObject(v.payload) &&
  typeof v.lane === 'string' &&
  typeof v.createdAt === 'number' &&
  (v.keys === undefined || isObject(v.keys))

/** What must match when an emitId comes again (the IETF draft: same key, same request). */
const fingerprint = (e: WireEnvelope) => JSON.stringify([e.event, e.payload, e.keys ?? null, e.lane, e.createdAt])

const bundles = new Map<string, Promise<string>>()

/**
 * Where the browser bundles take `@outbox/core` from: its sources, or with `OUTBOX_FROM=dist` the
 * built package as published (internal names shortened; see the core's README, "The build").
 * `npm test` runs this suite on dist, `test:e2e` (the fast loop) on the sources.
 */
export const CORE_FROM: 'src' | 'dist' = process.env.OUTBOX_FROM === 'dist' ? 'dist' : 'src'

/** Sends `@outbox/core` to `dist` (the tsconfig's `source` condition would pick the sources). */
const coreFromDist = {
  name: 'outbox-core-from-dist',
  setup(build: PluginBuild) {
    build.onResolve({ filter: /^@outbox\/core(\/[\w-]+)?$/ }, ({ path }) => ({
      path: fileURLToPath(new URL(`../dist/${path.split('/')[2] ?? 'index'}.js`, import.meta.url)),
    }))
  },
}

/** The page script with `@outbox/core` (see CORE_FROM), bundled once per test process. */
export const pageBundle = (): Promise<string> => bundleOf('./page.ts')

/** The service worker script (`sw.ts`), bundled once per test process. */
export const workerBundle = (): Promise<string> => bundleOf('./sw.ts')

/** The dedicated worker script (`worker.ts`), bundled once per test process. */
export const dedicatedWorkerBundle = (): Promise<string> => bundleOf('./worker.ts')

function bundleOf(entry: string): Promise<string> {
  const known = bundles.get(entry)
  if (known) return known
  const bundle = build({
    entryPoints: [fileURLToPath(new URL(entry, import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    conditions: ['source'],
    plugins: CORE_FROM === 'dist' ? [coreFromDist] : [],
    sourcemap: 'inline',
    write: false,
    logLevel: 'silent',
  }).then((result) => {
    const file = result.outputFiles[0]
    if (!file) throw new Error(`esbuild produced no output for e2e/${entry}`)
    return file.text
  })
  bundles.set(entry, bundle)
  return bundle
}

export const PAGE_HTML = `<!doctype html>
<html>
  <head><meta charset="utf-8"><title>outbox e2e</title></head>
  <body>
    <p>outbox e2e harness</p>
    <script type="module" src="/bundle.js"></script>
  </body>
</html>
`

/**
 * The server the e2e tests run against, on 127.0.0.1 in the test process:
 * - `GET /` is the test page, `GET /bundle.js` the page script (see `page.ts`);
 * - `POST /events` is an idempotent events endpoint (single and batch wire formats) that records
 *   each application per lane, so tests check exactly-once and lane order;
 * - `mode` (for new requests), `script()` (the next few) and `release()` (held ones) steer it: hold
 *   a request to keep a sender mid-flush, fail, drop.
 */
export async function startServer() {
  const { applied, laneLog, results, record } = createLedger()
  const fingerprints = new Map<string, string>()
  const received = new Map<string, number>()
  const requests: RequestRecord[] = []
  const protocolErrors: string[] = []
  const held: Held[] = []
  const inProgress = new Map<string, number>()
  const scripted: Mode[] = []
  const waiters = new Set<() => void>()
  let mode: Mode = 'apply'
  let n = 0
  /** Requests of each client (`x-tab`) the server has not finished answering. */
  const inFlight = new Map<string, number>()
  const overlaps: string[] = []
  let delayMs = 0

  const changed = () => {
    for (const wake of [...waiters]) wake()
  }

  const apply = (e: WireEnvelope): Record<string, unknown> => {
    const print = fingerprint(e)
    const stored = results.get(e.emitId)
    if (stored) {
      if (fingerprints.get(e.emitId) !== print) {
        protocolErrors.push(`emitId ${e.emitId} came again with another envelope`)
        return { ok: false, emitId: e.emitId, code: 'key-reused', retryable: false }
      }
      return stored
    }
    fingerprints.set(e.emitId, print)
    return record(e)
  }

  const applyAll = (envelopes: WireEnvelope[]) => applyInLaneOrder(envelopes, apply)

  const answer = (res: ServerResponse, record: RequestRecord | undefined, status: number, json: unknown) => {
    if (record) record.status = status
    if (res.destroyed || res.writableEnded) return
    try {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify(json))
    } catch {
      // The client went away (a closed tab): nothing to answer.
    }
  }

  const applyAndAnswer = (res: ServerResponse, record: RequestRecord, envelopes: WireEnvelope[], batch: boolean) => {
    if (batch) answer(res, record, 200, { results: applyAll(envelopes) })
    else {
      const ack = apply(envelopes[0] as WireEnvelope)
      answer(res, record, ack.code === 'key-reused' ? 422 : 200, ack)
    }
  }

  const events = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    let body: unknown
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch {
      protocolErrors.push('a request body that is not JSON')
      return answer(res, undefined, 400, { ok: false, code: 'bad-json' })
    }
    const batch = isObject(body) && Array.isArray(body.envelopes)
    const envelopes = (batch ? (body as { envelopes: unknown[] }).envelopes : [body]) as WireEnvelope[]
    const tabHeader = req.headers['x-tab']
    const record: RequestRecord = {
      n: ++n,
      at: Date.now(),
      tab: Array.isArray(tabHeader) ? tabHeader[0] : tabHeader,
      batch,
      emitIds: envelopes.map((e) => (isObject(e) && typeof e.emitId === 'string' ? e.emitId : '?')),
      outcome: 'invalid',
    }
    requests.push(record)
    changed()
    if (envelopes.length === 0 || !envelopes.every(isEnvelope)) {
      protocolErrors.push(`request ${record.n}: not a valid envelope (batch: ${batch})`)
      return answer(res, record, 400, { ok: false, code: 'invalid-envelope' })
    }
    if (!batch) {
      const key = req.headers['idempotency-key']
      const want = `"${envelopes[0]?.emitId}"`
      if (key !== want) protocolErrors.push(`request ${record.n}: Idempotency-Key ${String(key)}, expected ${want}`)
    }
    for (const e of envelopes) received.set(e.emitId, (received.get(e.emitId) ?? 0) + 1)
    if (envelopes.some((e) => inProgress.has(e.emitId))) {
      // The draft's answer to a repeat while the first request with the key is still processed.
      record.outcome = 'conflict'
      return answer(res, record, 409, { ok: false, code: 'in-progress', retryable: true })
    }
    const now = scripted.shift() ?? mode
    record.outcome = now
    switch (now) {
      case 'fail':
        return answer(res, record, 500, { ok: false, code: 'unavailable' })
      case 'drop':
        req.socket.destroy()
        return
      case 'apply':
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs))
        return applyAndAnswer(res, record, envelopes, batch)
      case 'hold': {
        for (const e of envelopes) inProgress.set(e.emitId, (inProgress.get(e.emitId) ?? 0) + 1)
        held.push({
          record,
          // Runs synchronously in `release()`, so the caller sees its effect at once.
          finish(then) {
            for (const e of envelopes) {
              const left = (inProgress.get(e.emitId) ?? 1) - 1
              if (left > 0) inProgress.set(e.emitId, left)
              else inProgress.delete(e.emitId)
            }
            if (then === 'drop') req.socket.destroy()
            else if (then === 'fail') answer(res, record, 500, { ok: false, code: 'unavailable' })
            else applyAndAnswer(res, record, envelopes, batch)
          },
        })
        return
      }
    }
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    const done = (p: Promise<void> | void) =>
      Promise.resolve(p)
        .catch((error: unknown) => {
          if (!res.headersSent && !res.destroyed) {
            res.writeHead(500)
            res.end(String(error))
          }
        })
        .finally(changed)
    if (req.method === 'POST' && path === '/events') {
      const tab = String(req.headers['x-tab'])
      const others = [...inFlight].filter(([t, count]) => t !== tab && count > 0).map(([t]) => t)
      if (others.length > 0) overlaps.push(`a request of ${tab} while ${others.join(', ')} had one in flight`)
      inFlight.set(tab, (inFlight.get(tab) ?? 0) + 1)
      res.on('close', () => {
        inFlight.set(tab, (inFlight.get(tab) ?? 1) - 1)
        changed()
      })
      return void done(events(req, res))
    }
    if (req.method === 'GET' && path === '/sw.js')
      return void done(
        workerBundle().then((js) => {
          res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' })
          res.end(js)
        }),
      )
    if (req.method === 'GET' && path === '/worker.js')
      return void done(
        dedicatedWorkerBundle().then((js) => {
          res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' })
          res.end(js)
        }),
      )
    if (req.method === 'GET' && path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      return void res.end(PAGE_HTML)
    }
    if (req.method === 'GET' && path === '/bundle.js')
      return void done(
        pageBundle().then((js) => {
          res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' })
          res.end(js)
        }),
      )
    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end('not found')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const origin = `http://127.0.0.1:${port}`

  /** Releases held requests (all, or the first `count`) at once: they are applied, or failed or dropped. */
  const release = (count = held.length, then: Mode = 'apply') => {
    for (const h of held.splice(0, count)) h.finish(then === 'hold' ? 'apply' : then)
    changed()
  }

  return {
    origin,
    url: `${origin}/`,
    /** emitId → times applied (1 for every delivered item, or the server double-applied). */
    applied,
    /** lane → emitIds in the order they were applied. */
    laneLog,
    /** emitId → requests that carried it (retries, beacons, takeovers: may be more than 1). */
    received,
    requests,
    /** Wire-format violations seen (bad envelope, wrong Idempotency-Key, key reused). */
    protocolErrors,
    /** The acks the server gave, by emitId. */
    results,
    get mode(): Mode {
      return mode
    },
    /** For the requests that arrive from now on; what is held stays held until `release()`. */
    set mode(next: Mode) {
      mode = next
    },
    /** Modes for the next requests, in order, before `mode` applies again. */
    script(...modes: Mode[]) {
      scripted.push(...modes)
    },
    /** Requests from one client (`x-tab`) that arrived while another client's was in flight. */
    overlaps,
    /** Requests of one client (`x-tab`) the server has not finished answering. */
    inFlightOf: (tab: string) => inFlight.get(tab) ?? 0,
    /** How long each applying request waits before it applies and answers (default 0). */
    set delayMs(ms: number) {
      delayMs = ms
    },
    /** Stops listening and cuts every connection: the server refuses connections until `restart()`. */
    stop: () =>
      new Promise<void>((resolve) => {
        release(held.length, 'drop')
        server.closeAllConnections()
        server.close(() => resolve())
      }),
    /** Listens again on the same port. */
    restart: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    /** Requests being held right now. */
    get held(): readonly RequestRecord[] {
      return held.map((h) => h.record)
    },
    release,
    /** The request log, one line each, with emitIds shortened to their last 6 characters. */
    log(): string {
      return requests
        .map(
          (r) =>
            `#${r.n} +${r.at - (requests[0]?.at ?? r.at)}ms tab=${r.tab} ${r.batch ? 'batch' : 'single'} ` +
            `[${r.emitIds.map((id) => id.slice(-6)).join(' ')}] ${r.outcome} ${r.status ?? '-'}`,
        )
        .join('\n')
    },
    /** Resolves when `check()` holds after a request arrives or settles (or at once). */
    until(check: () => boolean, timeoutMs = 10_000, what = 'server condition'): Promise<void> {
      if (check()) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const wake = () => {
          if (!check()) return
          clearTimeout(timer)
          waiters.delete(wake)
          resolve()
        }
        const timer = setTimeout(() => {
          waiters.delete(wake)
          reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`))
        }, timeoutMs)
        waiters.add(wake)
      })
    },
    close: () =>
      new Promise<void>((resolve) => {
        release(held.length, 'drop')
        server.closeAllConnections()
        if (!server.listening) return resolve()
        server.close(() => resolve())
      }),
  }
}

export type E2EServer = Awaited<ReturnType<typeof startServer>>
