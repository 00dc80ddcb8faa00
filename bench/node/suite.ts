/**
 * The Node half of the suite (memory mode), run as a child process so the client does not share
 * an event loop with the server in the parent. Prints one JSON line: { results: [...] }.
 * Usage: node --import tsx node/suite.ts '<json config>'
 */
import { Session } from 'node:inspector/promises'
import { createOutbox, type EmitEnvelope, httpTransport } from '@outbox/core'
import { memoryStore } from '@outbox/server'
import { moduleName } from '../lib/bundle.ts'
import { fetchTransport } from '../lib/fetch-transport.ts'
import { chatPayload } from '../lib/payload.ts'
import { byModule, type CpuProfile, inclusive, topFunctions } from '../lib/profile.ts'
import { envelopesOf, silent } from './envelopes.ts'

type Task = {
  task: 'deliver' | 'bare' | 'burst' | 'profileEmit' | 'serverStore'
  n: number
  batch?: number
  transport?: 'ky' | 'fetch'
  /** Pass Math.random as OutboxOptions.random (the ULID factory then skips crypto.getRandomValues). */
  mathRandom?: boolean
}
/** One child runs several tasks in a row (each process start costs a second or two). */
const config = JSON.parse(process.argv[2] ?? '{}') as { url: string; tasks: Task[] }
const api = `${config.url}/api/events`
const now = () => performance.now()
const rate = (n: number, ms: number) => (n / ms) * 1000
const payloads = (n: number) => Array.from({ length: n }, (_, i) => chatPayload(i))

/** Memory mode: `n` items emitted while paused, then `resume()`: time until the queue is empty. */
async function deliver(n: number, batch: number, kind: 'ky' | 'fetch') {
  const o = createOutbox({
    transport:
      kind === 'ky'
        ? httpTransport({ url: api, batch: batch > 1 ? { maxItems: batch } : false })
        : fetchTransport(api, batch),
    maxSize: n + 1,
  })
  o.pause()
  for (const p of payloads(n)) o.emit('user:message', p)
  let failed = 0
  o.on('outbox:failed', () => failed++)
  const flushed = new Promise<void>((resolve) => o.on('outbox:flushed', () => resolve()))
  const t0 = now()
  o.resume()
  await flushed
  const ms = now() - t0
  await o.close()
  return { n, batch, ms, rate: rate(n, ms), failed }
}

async function bareLoop(n: number, batch: number) {
  const list = await envelopesOf(payloads(n))
  const t0 = now()
  let acked = 0
  for (let i = 0; i < n; i += batch) {
    const chunk = list.slice(i, i + batch)
    const first = chunk[0] as EmitEnvelope
    const single = batch === 1
    const res = await fetch(api, {
      method: 'POST',
      headers: single
        ? { 'content-type': 'application/json', 'idempotency-key': `"${first.emitId}"` }
        : { 'content-type': 'application/json' },
      body: JSON.stringify(single ? first : { envelopes: chunk }),
    })
    const body = (await res.json()) as { ok?: boolean; results?: Array<{ ok: boolean }> }
    acked += single ? (body.ok ? 1 : 0) : (body.results ?? []).filter((r) => r.ok).length
  }
  const ms = now() - t0
  return { n, batch, ms, rate: rate(n, ms), acked }
}

/** A burst of `n` emits in one tick (memory mode, paused): emit cost and notifications. */
async function burst(n: number, mathRandom: boolean) {
  const o = createOutbox({ transport: silent, maxSize: n + 1, ...(mathRandom ? { random: Math.random } : {}) })
  o.pause()
  let notifications = -1 // subscribe calls once at once
  let updates = 0
  o.subscribe((s) => {
    void s.size
    notifications++
  })
  o.on('outbox:update', () => updates++)
  const list = payloads(n)
  const t0 = now()
  for (const p of list) o.emit('user:message', p)
  const emitMs = now() - t0
  await new Promise((r) => setTimeout(r, 50))
  await o.close()
  return { n, emitMs, emitsPerSecond: rate(n, emitMs), usPerEmit: (emitMs * 1000) / n, notifications, updates }
}

/** A CPU profile of a burst of `n` emits (memory mode): where the synchronous emit time goes. */
async function profileEmit(n: number) {
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 50 })
  const o = createOutbox({ transport: silent, maxSize: n + 1 })
  o.pause()
  const list = payloads(n)
  await session.post('Profiler.start')
  const t0 = now()
  for (const p of list) o.emit('user:message', p)
  const emitMs = now() - t0
  const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile }
  await o.close()
  session.disconnect()
  return {
    n,
    emitMs,
    top: topFunctions(profile, 25, (url) => moduleName(url)),
    modules: byModule(profile, (url) => moduleName(url)),
    inclusive: inclusive(profile, [
      'emit',
      'takePayload',
      'walk',
      'resolveKeys',
      'resolvePolicy',
      'assertSize',
      'stringify',
      'parse',
      'add',
      'find',
      'schedule',
      'batch',
    ]),
  }
}

/**
 * @outbox/server's `memoryStore` with `maxEntries: n`: µs per key (claim, then complete, as the
 * handler does) while it fills, then for n more keys at the cap, where each new key evicts one.
 */
async function serverStore(n: number) {
  const store = memoryStore({ maxEntries: n })
  const lap = async (from: number) => {
    const t0 = now()
    for (let i = from; i < from + n; i++) {
      const key = `k${i}`
      const claim = await store.begin(key, 'f')
      if (claim.status === 'started') await store.complete(key, claim.token, 'f', { ok: true, emitId: key })
    }
    return ((now() - t0) * 1000) / n
  }
  const filling = await lap(0)
  const atCap = await lap(n)
  return { filling, atCap, size: store.size }
}

const run = (t: Task): Promise<unknown> => {
  switch (t.task) {
    case 'deliver':
      return deliver(t.n, t.batch ?? 1, t.transport ?? 'ky')
    case 'bare':
      return bareLoop(t.n, t.batch ?? 1)
    case 'burst':
      return burst(t.n, t.mathRandom === true)
    case 'profileEmit':
      return profileEmit(t.n)
    case 'serverStore':
      return serverStore(t.n)
  }
}
const result: unknown[] = []
for (const t of config.tasks) result.push(await run(t))
process.stdout.write(`${JSON.stringify({ result })}\n`)
process.exit(0)
