import { batch } from '@preact/signals-core'
import type { Breaker } from './breaker.ts'
import type { Entry, Queue } from './queue.ts'
import { isDeliveryError, isRecord } from './record.ts'
import { classify, decideRetry, expiredError, type RetryPolicy } from './retry.ts'
import type { Settlement } from './settlement.ts'
import type { Clock, DeliveryError, DeliveryResult, Transport } from './types.ts'

type SchedulerContext = {
  queue: Queue
  store: Settlement
  breaker: Breaker
  policy: RetryPolicy
  clock: Clock
  random: () => number
  transport: Transport
  concurrency: number
  /** False while closed, paused, offline, not ready, or not the tab that sends. */
  canSend: () => boolean
  /** While stored items are still loading: nothing with a later emitId may be sent. */
  watermark: () => string | undefined
  onDrained: () => void
}

/** Trusts nothing a transport returns: a malformed result counts as an invalid ack. */
const validResult = (r: unknown): r is DeliveryResult =>
  isRecord(r) &&
  typeof r.emitId === 'string' &&
  ((r.ok === true && isRecord(r.ack)) ||
    (r.ok === false &&
      isDeliveryError(r.error) &&
      (r.retryAfterMs === undefined || (typeof r.retryAfterMs === 'number' && r.retryAfterMs >= 0))))

const invalidAck = (emitId: string, message: string): DeliveryResult => ({
  emitId,
  ok: false,
  error: { kind: 'invalid-ack', message, retryable: true },
})

/**
 * The lane scheduler: picks each lane's head (plus the ready items behind it, up to the
 * transport's `maxBatch`), within `concurrency` and the breaker; sends; classifies each result;
 * settles the items; starts the next. Lanes never wait for each other; a lane whose head is
 * waiting blocks only itself.
 */
export function createScheduler(ctx: SchedulerContext) {
  const { queue, store, breaker, policy, clock } = ctx
  const maxBatch = Math.max(1, Math.floor(ctx.transport.maxBatch ?? 1))
  const inFlight = new Map<string, AbortController>()
  let seq = 0
  /** Failures numbered up to this skip their backoff wait (flush, reconnect). */
  let cutoff = 0
  let skipHolds = false
  let wake: unknown
  let wakeAt = Number.POSITIVE_INFINITY
  let scheduled = false
  let flushWaiters: Array<() => void> = []

  const setWake = (at: number) => {
    if (at >= wakeAt) return
    if (wake !== undefined) ctx.clock.clearTimeout(wake)
    wakeAt = at
    wake = clock.setTimeout(
      () => {
        wake = undefined
        wakeAt = Number.POSITIVE_INFINITY
        pump()
      },
      Math.max(0, at - clock.now()),
    )
  }

  const stopWake = () => {
    if (wake !== undefined) clock.clearTimeout(wake)
    wake = undefined
    wakeAt = Number.POSITIVE_INFINITY
  }

  /** Ready items at the front of a lane, dropping stale and expiring old heads on the way. */
  const take = (lane: string, now: number): { ready: Entry[]; readyAt: number } => {
    const ready: Entry[] = []
    const watermark = ctx.watermark()
    while (ready.length < maxBatch) {
      const id = queue.laneAt(lane, ready.length)
      const entry = id === undefined ? undefined : queue.get(id)
      if (!entry || (watermark !== undefined && entry.item.emitId > watermark)) break
      const { item, policy: p } = entry
      if (p.ttlMs !== undefined && now - item.createdAt > p.ttlMs) {
        store.drop(item.emitId, 'stale')
        continue
      }
      if (now - entry.ageFrom >= policy.maxAgeMs) {
        store.fail(item.emitId, expiredError(policy.maxAgeMs))
        continue
      }
      const backoffUntil = entry.failSeq > cutoff ? (item.nextAttemptAt ?? 0) : 0
      const readyAt = Math.max(skipHolds ? 0 : p.holdUntil, backoffUntil)
      if (readyAt > now) return { ready, readyAt: ready.length === 0 ? readyAt : Number.POSITIVE_INFINITY }
      ready.push(entry)
    }
    return { ready, readyAt: Number.POSITIVE_INFINITY }
  }

  function pump(): void {
    scheduled = false
    if (!ctx.canSend()) {
      settleFlush()
      return
    }
    const now = clock.now()
    let earliest = Number.POSITIVE_INFINITY
    batch(() => {
      for (const lane of [...queue.lanes.keys()]) {
        if (inFlight.size >= ctx.concurrency) break
        if (inFlight.has(lane)) continue
        const { ready, readyAt } = take(lane, now)
        if (ready.length === 0) {
          earliest = Math.min(earliest, readyAt)
          continue
        }
        const gate = breaker.allow()
        if (!gate) {
          earliest = Math.min(earliest, breaker.retryAt.value ?? Number.POSITIVE_INFINITY)
          break
        }
        void send(lane, gate === 'probe' ? ready.slice(0, 1) : ready, gate === 'probe')
      }
    })
    if (earliest < Number.POSITIVE_INFINITY) setWake(earliest)
    settleFlush()
  }

  async function send(lane: string, sent: Entry[], probe: boolean): Promise<void> {
    const controller = new AbortController()
    inFlight.set(lane, controller)
    queue.toBack(lane) // round-robin: the lane that just got a turn goes to the back of the line
    store.sending(sent)
    let results: unknown
    let thrown: unknown
    try {
      results = await ctx.transport.send(
        sent.map((e) => store.envelopeOf(e.item)),
        controller.signal,
      )
    } catch (error) {
      thrown = error
    }
    inFlight.delete(lane)
    if (controller.signal.aborted) {
      // Closed or cleared mid-flight: what remains stays pending for the next attempt or session.
      batch(() => {
        for (const { item } of sent) if (queue.get(item.emitId)) store.update(item.emitId, { status: 'queued' })
      })
    } else batch(() => settle(sent, results, thrown, probe))
    if (queue.entries().size === 0) ctx.onDrained()
    pump()
  }

  function settle(sent: Entry[], results: unknown, thrown: unknown, probe: boolean): void {
    const now = clock.now()
    const byId = new Map<string, DeliveryResult>()
    if (Array.isArray(results)) for (const r of results) if (validResult(r)) byId.set(r.emitId, r)
    const networkError: DeliveryError | undefined =
      thrown === undefined
        ? undefined
        : { kind: 'network', message: thrown instanceof Error ? thrown.message : String(thrown), retryable: true }
    let failedRetryably = false
    let openForMs: number | undefined
    for (const { item } of sent) {
      const entry = queue.get(item.emitId)
      if (!entry) continue // discarded or cleared while in flight
      const result: DeliveryResult = networkError
        ? { emitId: item.emitId, ok: false, error: networkError }
        : (byId.get(item.emitId) ?? invalidAck(item.emitId, 'The transport returned no valid result for this event.'))
      if (result.ok) {
        store.ack(item.emitId, result.ack)
        continue
      }
      const error = classify(policy, result.error)
      if (error.retryable) {
        failedRetryably = true
        if (error.code === 503 && result.retryAfterMs !== undefined) openForMs = result.retryAfterMs
      }
      const decision = decideRetry(
        policy,
        { attempts: entry.item.attempts, ageMs: now - entry.ageFrom },
        error,
        result.retryAfterMs,
        ctx.random,
      )
      if (!decision.retry) store.fail(item.emitId, decision.error)
      else
        store.update(
          item.emitId,
          { status: 'waiting', nextAttemptAt: now + decision.waitMs, lastError: error },
          { failSeq: ++seq },
        )
    }
    if (failedRetryably) breaker.failure(openForMs, probe)
    else breaker.success()
  }

  function settleFlush(): void {
    if (flushWaiters.length === 0 || inFlight.size > 0) return
    const waiters = flushWaiters
    flushWaiters = []
    skipHolds = false
    for (const resolve of waiters) resolve()
  }

  return {
    /** Pumps once at the end of this tick, however many emits happened in it. */
    schedule(): void {
      if (scheduled) return
      scheduled = true
      queueMicrotask(pump)
    },
    /** Cuts every current backoff wait short and pumps now (flush, reconnect). */
    expedite(options: { holds?: boolean } = {}): void {
      cutoff = seq
      if (options.holds) skipHolds = true
      breaker.expedite()
      pump()
    },
    flush(): Promise<void> {
      const done = new Promise<void>((resolve) => flushWaiters.push(resolve))
      this.expedite({ holds: true })
      return done
    },
    /** Aborts every transport call in flight; their items stay pending. */
    abort(): void {
      for (const controller of inFlight.values()) controller.abort()
    },
    stop(): void {
      stopWake()
      this.abort()
      settleFlush()
    },
  }
}

export type Scheduler = ReturnType<typeof createScheduler>
