/**
 * Property tests: random sequences of emits, transport answers (ack, hard failure, retryable
 * failure, Retry-After, timeout, thrown network error, garbage), clock moves, offline/online,
 * retry, discard, flush, pause and restarts from storage, run against a model of the queue on the
 * fake clock. After every step the outbox must agree with the model and keep its invariants.
 */
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createOutbox,
  type DeliveryResult,
  type EmitEnvelope,
  type EmitOptions,
  memoryStorage,
  type Outbox,
  OutboxFullError,
  type OutboxStorage,
} from '../src/index.ts'
import { fakeClock, manualNetwork, tick } from './helpers.ts'

// ---------------------------------------------------------------------------------------------
// Commands

const LANES = ['a', 'b', 'c'] as const
const KEYS = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'] as const

type Answer = 'ack' | 'hard' | 'rejected' | 'retryable' | 'retry-after' | 'timeout' | 'throw' | 'garbage' | 'partial'

type Command =
  | {
      t: 'emit'
      lane: string
      key?: string
      durable: boolean
      ttlMs?: number
      coalesceKey?: string
    }
  | { t: 'answer'; call: number; answer: Answer; retryAfterMs: number }
  | { t: 'advance'; ms: number }
  | { t: 'offline' }
  | { t: 'online' }
  | { t: 'retry'; pick: number | null }
  | { t: 'discard'; pick: number }
  | { t: 'flush' }
  | { t: 'pause' }
  | { t: 'resume' }
  | { t: 'restart' }

/** `undefined` three times in four, else one of `values`. */
const sometimes = <T>(...values: T[]) =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...values) })

const emitCommand: fc.Arbitrary<Command> = fc
  .record({
    lane: fc.constantFrom(...LANES),
    key: sometimes(...KEYS),
    durable: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    ttlMs: sometimes(50, 5_000),
    coalesceKey: sometimes('ca', 'cb'),
  })
  .map(({ lane, key, durable, ttlMs, coalesceKey }) => {
    const c: Command = { t: 'emit', lane, durable }
    if (key !== undefined) c.key = key
    if (ttlMs !== undefined) c.ttlMs = ttlMs
    if (coalesceKey !== undefined) c.coalesceKey = coalesceKey
    return c
  })

const commandArb = (persistent: boolean): fc.Arbitrary<Command> =>
  fc.oneof(
    { weight: 8, arbitrary: emitCommand },
    {
      weight: 8,
      arbitrary: fc.record({
        t: fc.constant('answer' as const),
        call: fc.nat(5),
        answer: fc.constantFrom<Answer>(
          'ack',
          'ack',
          'ack',
          'hard',
          'rejected',
          'retryable',
          'retry-after',
          'timeout',
          'throw',
          'garbage',
          'partial',
        ),
        retryAfterMs: fc.constantFrom(0, 1_000, 40_000),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        t: fc.constant('advance' as const),
        ms: fc.constantFrom(0, 10, 100, 500, 2_000, 31_000),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ t: 'offline' as const }) },
    { weight: 1, arbitrary: fc.constant({ t: 'online' as const }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('retry' as const), pick: fc.option(fc.nat(5)) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('discard' as const), pick: fc.nat(10) }) },
    { weight: 1, arbitrary: fc.constant({ t: 'flush' as const }) },
    { weight: 1, arbitrary: fc.constant({ t: 'pause' as const }) },
    { weight: 1, arbitrary: fc.constant({ t: 'resume' as const }) },
    { weight: persistent ? 1 : 0, arbitrary: fc.constant({ t: 'restart' as const }) },
  )

type Config = {
  maxSize: number
  maxBatch: number
  concurrency: number
  maxAttempts: number | undefined
  maxAgeMs: number | undefined
  threshold: number
}

const configArb: fc.Arbitrary<Config> = fc.record({
  maxSize: fc.constantFrom(3, 5, 50),
  maxBatch: fc.constantFrom(1, 1, 3),
  concurrency: fc.constantFrom(1, 2, 4),
  maxAttempts: fc.constantFrom(undefined, 3),
  maxAgeMs: fc.constantFrom(undefined, 60_000),
  threshold: fc.constantFrom(2, 10),
})

// ---------------------------------------------------------------------------------------------
// The world: an outbox on fake time with a transport whose calls stay open until answered

type ModelState = 'pending' | 'acked' | 'failed' | 'dropped' | 'vanished'
type ModelItem = {
  emitId: string
  lane: string
  durable: boolean
  key?: string
  coalesceKey?: string
  state: ModelState
  acks: number
}

type Call = {
  batch: EmitEnvelope[]
  lane: string
  resolve: (r: readonly DeliveryResult[]) => void
  reject: (e: unknown) => void
}

const open: Outbox[] = []
afterEach(async () => {
  for (const o of open.splice(0)) await o.close()
})

let runs = 0
/** What the runs exercised, so a test can tell it did not pass vacuously. */
const seen = {
  retryRefused: 0,
  sends: 0,
  acked: 0,
  failed: 0,
  dropped: 0,
  restarts: 0,
  full: 0,
  deduped: 0,
  drainedItems: 0,
}

class World {
  readonly clock = fakeClock()
  readonly network = manualNetwork()
  readonly items = new Map<string, ModelItem>()
  readonly calls: Call[] = []
  readonly violations: string[] = []
  readonly storage: OutboxStorage | undefined
  readonly key = `prop-${++runs}-${Math.random().toString(36).slice(2)}`
  outbox!: Outbox
  lastEmitId = ''
  paused = false
  session = 0
  private offs: Array<() => void> = []

  constructor(
    readonly config: Config,
    readonly persistent: boolean,
  ) {
    this.storage = persistent ? memoryStorage() : undefined
  }

  /** Checked at the moment a transport call starts. */
  private onSend(batch: readonly EmitEnvelope[]) {
    seen.sends++
    const lane = batch[0]?.lane
    if (batch.length === 0 || lane === undefined) return this.violations.push('an empty transport call')
    if (batch.length > this.config.maxBatch) this.violations.push(`a call of ${batch.length} > maxBatch`)
    if (batch.some((e) => e.lane !== lane)) this.violations.push('a call mixing lanes')
    if (this.calls.some((c) => c.lane === lane)) this.violations.push(`two calls in flight for lane ${lane}`)
    const inCall = new Set<string>()
    for (const e of batch) {
      const m = this.items.get(e.emitId)
      if (!m) this.violations.push(`sent an unknown item ${e.emitId}`)
      else if (m.state !== 'pending') this.violations.push(`sent ${e.emitId} while it is ${m.state}`)
      // Lane order: nothing emitted earlier in this lane is still pending, unless it goes first in this call.
      for (const earlier of this.items.values())
        if (
          earlier.lane === lane &&
          earlier.emitId < e.emitId &&
          earlier.state === 'pending' &&
          !inCall.has(earlier.emitId)
        )
          this.violations.push(`sent ${e.emitId} before the earlier ${earlier.emitId} of lane ${lane}`)
      inCall.add(e.emitId)
    }
  }

  private transport() {
    return {
      maxBatch: this.config.maxBatch,
      send: (batch: readonly EmitEnvelope[], signal: AbortSignal) => {
        this.onSend(batch)
        return new Promise<readonly DeliveryResult[]>((resolve, reject) => {
          const call: Call = { batch: [...batch], lane: batch[0]?.lane ?? '', resolve, reject }
          this.calls.push(call)
          signal.addEventListener('abort', () => {
            const i = this.calls.indexOf(call)
            if (i >= 0) this.calls.splice(i, 1)
            reject(new DOMException('aborted', 'AbortError'))
          })
        })
      },
    }
  }

  async start() {
    this.session++
    const { config } = this
    this.outbox = createOutbox({
      transport: this.transport(),
      clock: this.clock,
      network: this.network,
      random: () => 0.5,
      maxSize: config.maxSize,
      concurrency: config.concurrency,
      retry: {
        baseMs: 100,
        maxMs: 5_000,
        ...(config.maxAttempts ? { maxAttempts: config.maxAttempts } : {}),
        ...(config.maxAgeMs ? { maxAgeMs: config.maxAgeMs } : {}),
      },
      breaker: { threshold: config.threshold, cooldownMs: 30_000 },
      ...(this.persistent ? { mode: 'persistent' as const, storage: this.storage, persistenceKey: this.key } : {}),
    })
    open.push(this.outbox)
    const o = this.outbox
    const session = this.session
    const mark = (emitId: string, state: ModelState, from: ModelState[]) => {
      const m = this.items.get(emitId)
      if (!m) return this.violations.push(`event for unknown ${emitId}`)
      if (!from.includes(m.state)) this.violations.push(`${emitId}: ${m.state} -> ${state}`)
      m.state = state
    }
    this.offs = [
      o.on('outbox:acked', ({ envelope, ack }) => {
        if (session !== this.session) return this.violations.push('an event from a closed outbox')
        const m = this.items.get(envelope.emitId)
        if (m) m.acks++
        if (ack.emitId !== envelope.emitId) this.violations.push('ack of another emitId')
        seen.acked++
        mark(envelope.emitId, 'acked', ['pending'])
      }),
      o.on('outbox:failed', ({ envelope }) => {
        seen.failed++
        mark(envelope.emitId, 'failed', ['pending'])
      }),
      o.on('outbox:dropped', ({ envelope, reason }) => {
        seen.dropped++
        const m = this.items.get(envelope.emitId)
        if (reason === 'coalesced' && m?.coalesceKey === undefined) this.violations.push('coalesced without a key')
        mark(envelope.emitId, 'dropped', reason === 'discarded' ? ['pending', 'failed'] : ['pending'])
      }),
    ]
    await o.ready
    // Leadership (BroadcastChannel heartbeats in Node) settles on the fake clock.
    if (this.persistent) await this.clock.advance(2_100)
    await this.settle()
  }

  async settle() {
    for (let i = 0; i < 4; i++) await tick()
  }

  pendingModel() {
    return [...this.items.values()].filter((m) => m.state === 'pending')
  }

  emit(c: Extract<Command, { t: 'emit' }>) {
    const o = this.outbox
    const payload: Record<string, unknown> = { chatId: c.lane, text: 'hi' }
    if (c.key) payload.messageId = c.key
    const options: EmitOptions = { durable: c.durable }
    if (c.ttlMs !== undefined) options.ttlMs = c.ttlMs
    if (c.coalesceKey !== undefined) options.coalesceKey = c.coalesceKey
    const pending = this.pendingModel()
    const sameKey = c.key === undefined ? [] : pending.filter((m) => m.key === c.key)
    const sizeBefore = o.size.peek()
    const statusOf = new Map(o.pending.peek().map((i) => [i.emitId, i.status]))
    const replaceable =
      c.coalesceKey === undefined
        ? []
        : pending.filter((m) => m.coalesceKey === c.coalesceKey && statusOf.get(m.emitId) !== 'sending')
    let envelope: EmitEnvelope
    try {
      envelope = o.emit('user:message', payload, options)
    } catch (error) {
      if (!(error instanceof OutboxFullError)) throw error
      seen.full++
      if (sameKey.length > 0) this.violations.push('full, though the emit dedupes onto a pending item')
      if (c.coalesceKey === undefined && sizeBefore < this.config.maxSize)
        this.violations.push(`OutboxFullError with ${sizeBefore} < maxSize pending`)
      if (o.size.peek() !== sizeBefore) this.violations.push('a refused emit changed the queue')
      return
    }
    if (sameKey.length > 0) {
      seen.deduped++
      if (!sameKey.some((m) => m.emitId === envelope.emitId))
        this.violations.push(`emit with pending key ${c.key} was not deduped`)
      return
    }
    if (this.items.has(envelope.emitId)) return this.violations.push(`emit returned a used emitId ${envelope.emitId}`)
    if (envelope.emitId <= this.lastEmitId) this.violations.push('emitIds are not increasing')
    this.lastEmitId = envelope.emitId
    if (c.coalesceKey === undefined && sizeBefore >= this.config.maxSize)
      this.violations.push(`accepted an emit with ${sizeBefore} >= maxSize pending`)
    const item: ModelItem = { emitId: envelope.emitId, lane: c.lane, durable: c.durable, state: 'pending', acks: 0 }
    if (c.key !== undefined) item.key = c.key
    if (c.coalesceKey !== undefined) item.coalesceKey = c.coalesceKey
    this.items.set(envelope.emitId, item)
    // Coalescing: a not-yet-sent pending item with the key was replaced (dropped as coalesced).
    // (When there are two, e.g. one went back to waiting after another was queued behind it, the
    // outbox replaces one of them today; see the report.)
    if (replaceable.length > 0 && !replaceable.some((m) => m.state === 'dropped'))
      this.violations.push(`none of ${replaceable.map((m) => m.emitId)} replaced by ${envelope.emitId}`)
  }

  answer(c: Extract<Command, { t: 'answer' }>) {
    if (this.calls.length === 0) return
    const call = this.calls.splice(c.call % this.calls.length, 1)[0] as Call
    const fail = (e: EmitEnvelope, error: Record<string, unknown>, retryAfterMs?: number) =>
      ({
        emitId: e.emitId,
        ok: false,
        error,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      }) as DeliveryResult
    const ack = (e: EmitEnvelope): DeliveryResult => ({
      emitId: e.emitId,
      ok: true,
      ack: { ok: true, emitId: e.emitId },
    })
    switch (c.answer) {
      case 'ack':
        return call.resolve(call.batch.map(ack))
      case 'hard':
        return call.resolve(
          call.batch.map((e) => fail(e, { kind: 'http', code: 400, message: 'HTTP 400', retryable: false })),
        )
      case 'rejected':
        return call.resolve(
          call.batch.map((e) => fail(e, { kind: 'rejected', code: 'nope', message: 'no', retryable: false })),
        )
      case 'retryable':
        return call.resolve(
          call.batch.map((e) => fail(e, { kind: 'http', code: 500, message: 'HTTP 500', retryable: true })),
        )
      case 'retry-after': {
        const code = c.retryAfterMs === 40_000 ? 503 : 429
        return call.resolve(
          call.batch.map((e) =>
            fail(e, { kind: 'http', code, message: `HTTP ${code}`, retryable: true }, c.retryAfterMs),
          ),
        )
      }
      case 'timeout':
        return call.resolve(
          call.batch.map((e) => fail(e, { kind: 'network', message: 'No answer within 10000 ms.', retryable: true })),
        )
      case 'throw':
        return call.reject(new TypeError('fetch failed'))
      case 'garbage':
        return call.resolve([{ nonsense: true }, null, { emitId: 'x', ok: true }] as unknown as DeliveryResult[])
      case 'partial':
        // The server applied a prefix of the batch, then met a retryable failure.
        return call.resolve(
          call.batch.map((e, i) =>
            i === 0 ? ack(e) : fail(e, { kind: 'rejected', code: 'lane-blocked', message: 'wait', retryable: true }),
          ),
        )
    }
  }

  async restart() {
    seen.restarts++
    const old = this.outbox
    for (const off of this.offs) off()
    this.offs = []
    await old.close()
    open.splice(open.indexOf(old), 1)
    for (const m of this.items.values())
      if (!m.durable && (m.state === 'pending' || m.state === 'failed')) m.state = 'vanished'
    if (this.calls.length > 0) this.violations.push('calls still open after close')
    await this.start()
  }

  async run(c: Command) {
    const o = this.outbox
    switch (c.t) {
      case 'emit':
        this.emit(c)
        break
      case 'answer':
        this.answer(c)
        break
      case 'advance':
        await this.clock.advance(c.ms)
        break
      case 'offline':
        this.network.set(false)
        break
      case 'online':
        this.network.set(true)
        break
      case 'retry': {
        const failed = o.failed.peek()
        const before = failed.map((f) => f.emitId)
        try {
          if (c.pick === null) o.retry()
          else if (failed.length > 0) o.retry((failed[c.pick % failed.length] as EmitEnvelope).emitId)
        } catch (error) {
          // A retry that does not fit under maxSize may refuse; what stays failed is still failed.
          if (!(error instanceof OutboxFullError)) throw error
          seen.retryRefused++
        }
        const still = new Set(o.failed.peek().map((f) => f.emitId))
        for (const id of before) if (!still.has(id)) this.revive(id)
        break
      }
      case 'discard': {
        const all = [...o.pending.peek(), ...o.failed.peek()]
        if (all.length > 0) o.discard((all[c.pick % all.length] as EmitEnvelope).emitId)
        break
      }
      case 'flush':
        void o.flush()
        break
      case 'pause':
        this.paused = true
        o.pause()
        break
      case 'resume':
        this.paused = false
        o.resume()
        break
      case 'restart':
        await this.restart()
        if (this.paused) this.outbox.pause()
        break
    }
    await this.settle()
    this.check(c)
  }

  private revive(emitId: string) {
    const m = this.items.get(emitId)
    if (!m) return this.violations.push(`failed list holds unknown ${emitId}`)
    if (m.state !== 'failed') this.violations.push(`retrying ${emitId} that is ${m.state}`)
    m.state = 'pending'
    // A retried item goes back plain: no coalescing, no ttl.
    delete m.coalesceKey
  }

  /** The outbox agrees with the model, and its own invariants hold. */
  check(after: Command) {
    const o = this.outbox
    const where = `after ${JSON.stringify(after)}`
    const pending = o.pending.peek()
    const failed = o.failed.peek()
    const pendingIds = pending.map((i) => i.emitId)
    const expectPending = this.pendingModel().map((m) => m.emitId)
    if (pendingIds.join() !== [...pendingIds].sort().join()) this.violations.push(`pending not in emit order ${where}`)
    if ([...pendingIds].sort().join() !== expectPending.sort().join())
      this.violations.push(`pending ${pendingIds} but the model says ${expectPending} ${where}`)
    const failedIds = failed.map((f) => f.emitId).sort()
    const expectFailed = [...this.items.values()].filter((m) => m.state === 'failed').map((m) => m.emitId)
    if (failedIds.join() !== expectFailed.sort().join())
      this.violations.push(`failed ${failedIds} but the model says ${expectFailed} ${where}`)
    if (o.size.peek() !== pending.length) this.violations.push(`size ${o.size.peek()} != ${pending.length}`)
    if (pending.length > this.config.maxSize) this.violations.push(`size ${pending.length} over maxSize ${where}`)
    const inFlight = new Set(this.calls.flatMap((c) => c.batch.map((e) => e.emitId)))
    for (const item of pending) {
      const sending = item.status === 'sending'
      // An item discarded while in flight leaves its call open; everything else in a call is sending.
      if (sending !== inFlight.has(item.emitId))
        this.violations.push(
          `${item.emitId} is ${item.status} but ${inFlight.has(item.emitId) ? 'in' : 'not in'} a call ${where}`,
        )
      if (item.status === 'waiting' && (item.lastError === undefined || item.nextAttemptAt === undefined))
        this.violations.push(`${item.emitId} waits without lastError/nextAttemptAt`)
      if (!Number.isInteger(item.attempts) || item.attempts < 0) this.violations.push('bad attempts')
    }
    for (const f of failed) if (f.status !== 'failed' || !f.error?.kind) this.violations.push('malformed failed item')
    for (const m of this.items.values()) if (m.acks > 1) this.violations.push(`${m.emitId} acked ${m.acks} times`)
  }

  /** Faults stop: everything still pending must get delivered. */
  async drain() {
    const o = this.outbox
    seen.drainedItems += this.pendingModel().length
    this.network.set(true)
    this.paused = false
    o.resume()
    for (let i = 0; i < 40 && (this.pendingModel().length > 0 || this.calls.length > 0); i++) {
      while (this.calls.length > 0) {
        this.answer({ t: 'answer', call: 0, answer: 'ack', retryAfterMs: 0 })
        await this.settle()
      }
      await this.clock.advance(31_000)
      void o.flush()
      await this.settle()
    }
    this.check({ t: 'flush' })
    const stuck = this.pendingModel()
    if (stuck.length > 0) this.violations.push(`not drained: ${stuck.map((m) => m.emitId)}`)
    // Every durable item ended acked, failed or dropped with a reason (or pending, above: none).
    for (const m of this.items.values())
      if (m.durable && m.state === 'vanished') this.violations.push(`durable ${m.emitId} vanished`)
    // delivered() agrees with the outcome.
    for (const m of this.items.values()) {
      if (m.state === 'failed') {
        const outcome = await o.delivered(m.emitId).then(
          () => 'resolved',
          (e: Error) => e.name,
        )
        if (outcome !== 'DeliveryFailedError')
          this.violations.push(`delivered(${m.emitId}) of a failed item: ${outcome}`)
      }
    }
  }
}

async function runScenario(config: Config, persistent: boolean, commands: Command[]) {
  const world = new World(config, persistent)
  await world.start()
  for (const c of commands) {
    await world.run(c)
    if (world.violations.length > 0) break
  }
  if (world.violations.length === 0) await world.drain()
  const violations = world.violations
  for (const o of open.splice(0)) await o.close()
  return violations
}

describe('the queue against a model (fast-check)', () => {
  it('memory mode: lane order, no loss, no duplicate ack, size bound, consistent statuses', async () => {
    await fc.assert(
      fc.asyncProperty(
        configArb,
        fc.array(commandArb(false), { minLength: 10, maxLength: 80, size: 'max' }),
        async (config, cmds) => {
          expect(await runScenario(config, false, cmds)).toEqual([])
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 150) },
    )
  }, 60_000)

  it('persistent mode with restarts from storage: the same invariants across sessions', async () => {
    await fc.assert(
      fc.asyncProperty(
        configArb,
        fc.array(commandArb(true), { minLength: 10, maxLength: 60, size: 'max' }),
        async (config, cmds) => {
          expect(await runScenario(config, true, cmds)).toEqual([])
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS_P ?? 60) },
    )
  }, 60_000)

  it('exercised every transition', () => {
    console.log(seen)
    for (const [what, n] of Object.entries(seen)) if (what !== 'retryRefused') expect(n, what).toBeGreaterThan(0)
  })
})
