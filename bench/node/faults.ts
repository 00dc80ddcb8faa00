/**
 * Goodput under faults (Node, memory mode, default options), as a child process so the clients do
 * not share an event loop with the fault server in the parent. Prints one JSON line: { result }.
 * Usage: node --import tsx node/faults.ts '<json config>'
 */
import { createOutbox, type EmitEnvelope, httpTransport, type Transport } from '@outbox/core'
import type { FaultMode } from '../lib/fault-server.ts'
import { chatPayload } from '../lib/payload.ts'
import { envelopesOf } from './envelopes.ts'

type Task =
  | {
      task: 'mix'
      who: 'outbox' | 'loop'
      mode: 'mix' | 'clean'
      seed: number
      n: number
      lanes: number
      batch: boolean
    }
  | { task: 'down'; n: number; lanes: number; downMs: number }
type Config = { url: string; tasks: Task[] }

const config = JSON.parse(process.argv[2] ?? '{}') as Config
const api = `${config.url}/events`
/** The outbox's defaults, which the hand-written loop copies. */
const DEFAULTS = { baseMs: 400, factor: 2, maxMs: 10_000, concurrency: 4, maxItems: 50, timeoutMs: 10_000 }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function control(mode: FaultMode): Promise<{ until: number }> {
  const res = await fetch(`${config.url}/control`, { method: 'POST', body: JSON.stringify(mode) })
  return (await res.json()) as { until: number }
}

const laneOf = (i: number, lanes: number) => `c${i % lanes}`
const payloads = (n: number, lanes: number) =>
  Array.from({ length: n }, (_, i) => chatPayload(i, 300, laneOf(i, lanes)))

/** Mean and max over lanes of each lane's drain time (from the start to its last ack). */
const laneFigures = (doneAt: Map<string, number>, t0: number) => {
  const times = [...doneAt.values()].map((t) => t - t0)
  return { meanLaneMs: times.reduce((a, b) => a + b, 0) / times.length, maxLaneMs: Math.max(...times) }
}

/** The outbox with default options: `n` items emitted while paused, then `resume()`. */
async function outboxRun(n: number, lanes: number, batch: boolean) {
  const o = createOutbox({
    transport: httpTransport({ url: api, batch }),
    maxSize: n + 1,
  })
  o.pause()
  const left = new Map<string, number>()
  for (const p of payloads(n, lanes)) {
    const e = o.emit('user:message', p)
    left.set(e.lane, (left.get(e.lane) ?? 0) + 1)
  }
  const doneAt = new Map<string, number>()
  let failed = 0
  o.on('outbox:failed', () => failed++)
  const drained = new Promise<void>((resolve) =>
    o.on('outbox:acked', ({ envelope }) => {
      const rest = (left.get(envelope.lane) ?? 0) - 1
      left.set(envelope.lane, rest)
      if (rest === 0) doneAt.set(envelope.lane, performance.now())
      if (doneAt.size === lanes) resolve()
    }),
  )
  const t0 = performance.now()
  o.resume()
  await Promise.race([drained, sleep(300_000)])
  await o.close()
  return { ...laneFigures(doneAt, t0), failed, lanesDone: doneAt.size }
}

/** At most `n` holders at once, first come first served. */
function slots(n: number) {
  let free = n
  const waiting: Array<() => void> = []
  return {
    async take() {
      if (free > 0) free--
      else await new Promise<void>((resolve) => waiting.push(resolve))
    },
    give() {
      const next = waiting.shift()
      if (next) next()
      else free++
    },
  }
}

/**
 * The hand-written loop: each lane sends its items in order (one per request, or up to 50 in
 * batch mode), and retries a failed request after the outbox's default backoff (400 ms doubling to
 * 10 s, ±25% jitter), or the `Retry-After` it got. No breaker. Like the outbox's default
 * `concurrency`, at most 4 requests are in flight at once; a lane holds a slot only while its
 * request is.
 */
async function loopRun(n: number, lanes: number, batch: boolean) {
  const list = await envelopesOf(payloads(n, lanes))
  const byLane = new Map<string, EmitEnvelope[]>()
  for (const e of list) byLane.set(e.lane, [...(byLane.get(e.lane) ?? []), e])
  const pool = slots(DEFAULTS.concurrency)
  const doneAt = new Map<string, number>()

  /** How many items at the front of `chunk` were acked, and the Retry-After if any (ms). */
  async function post(chunk: EmitEnvelope[]): Promise<{ acked: number; retryAfterMs?: number }> {
    const first = chunk[0] as EmitEnvelope
    try {
      const res = await fetch(api, {
        method: 'POST',
        headers: batch
          ? { 'content-type': 'application/json' }
          : { 'content-type': 'application/json', 'idempotency-key': `"${first.emitId}"` },
        body: JSON.stringify(batch ? { envelopes: chunk } : first),
        signal: AbortSignal.timeout(DEFAULTS.timeoutMs),
      })
      const text = await res.text()
      if (!res.ok) {
        const header = res.headers.get('retry-after')
        return header === null ? { acked: 0 } : { acked: 0, retryAfterMs: Number(header) * 1000 }
      }
      const body = JSON.parse(text) as { ok?: boolean; results?: Array<{ ok: boolean }> }
      if (!batch) return { acked: body.ok ? 1 : 0 }
      let acked = 0
      while (acked < chunk.length && body.results?.[acked]?.ok) acked++
      return { acked }
    } catch {
      return { acked: 0 }
    }
  }

  const lane = async (name: string, items: EmitEnvelope[]) => {
    let i = 0
    let attempts = 0 // of the head item
    while (i < items.length) {
      const chunk = items.slice(i, i + (batch ? DEFAULTS.maxItems : 1))
      attempts++
      await pool.take()
      let answer: { acked: number; retryAfterMs?: number }
      try {
        answer = await post(chunk)
      } finally {
        pool.give()
      }
      if (answer.acked > 0) {
        i += answer.acked
        attempts = 0
        continue
      }
      const wait = Math.min(DEFAULTS.maxMs, DEFAULTS.baseMs * DEFAULTS.factor ** (attempts - 1))
      await sleep(answer.retryAfterMs ?? Math.round(wait * (0.75 + Math.random() * 0.5)))
    }
    doneAt.set(name, performance.now())
  }

  const t0 = performance.now()
  await Promise.all([...byLane].map(([name, items]) => lane(name, items)))
  return { ...laneFigures(doneAt, t0), failed: 0, lanesDone: doneAt.size }
}

/**
 * A server that answers 503 to everything for `downMs`, starting as `n` items over `lanes` lanes
 * are emitted: requests while the breaker is open (the probes), cooldowns, and time from the
 * recovery to the first delivery.
 */
async function downRun(n: number, lanes: number, downMs: number) {
  const calls: Array<{ at: number; breaker: string }> = []
  const inner = httpTransport({ url: api })
  let outbox: ReturnType<typeof createOutbox> | undefined
  const transport: Transport = {
    ...inner,
    send(batch, signal) {
      calls.push({ at: Date.now(), breaker: outbox?.breaker.peek() ?? 'closed' })
      return inner.send(batch, signal)
    },
  }
  const o = createOutbox({ transport, maxSize: n + 1 })
  outbox = o
  const transitions: Array<{ at: number; state: string }> = []
  o.breaker.subscribe((state) => transitions.push({ at: Date.now(), state }))
  const acks: number[] = []
  o.on('outbox:acked', () => acks.push(Date.now()))
  const { until } = await control({ mode: 'down', ms: downMs })
  const t0 = Date.now()
  for (const p of payloads(n, lanes)) o.emit('user:message', p)
  const drained = new Promise<void>((resolve) => o.on('outbox:flushed', () => resolve()))
  await Promise.race([drained, sleep(downMs + 120_000)])
  await o.close()
  const openedAt = transitions.find((t) => t.state === 'open')?.at ?? Number.NaN
  const whileOpen = calls.filter((c) => c.breaker !== 'closed').length
  const cooldowns = transitions.filter((t) => t.state === 'half-open').length
  const firstAck = acks.find((t) => t >= until) ?? Number.NaN
  return {
    openedAfterMs: openedAt - t0,
    callsBeforeOpen: calls.filter((c) => c.at < openedAt).length,
    callsWhileOpen: whileOpen,
    cooldowns,
    probesPerCooldown: cooldowns === 0 ? Number.NaN : whileOpen / cooldowns,
    callsDuringOutage: calls.filter((c) => c.at < until).length,
    recoveryToFirstMs: firstAck - until,
    recoveryToDrainMs: (acks.at(-1) ?? Number.NaN) - until,
    delivered: acks.length,
  }
}

const result: unknown[] = []
for (const t of config.tasks) {
  if (t.task === 'down') result.push(await downRun(t.n, t.lanes, t.downMs))
  else {
    await control(t.mode === 'mix' ? { mode: 'mix', seed: t.seed } : { mode: 'clean' })
    result.push(await (t.who === 'outbox' ? outboxRun : loopRun)(t.n, t.lanes, t.batch))
  }
}
await control({ mode: 'clean' })
process.stdout.write(`${JSON.stringify({ result })}\n`)
process.exit(0)
