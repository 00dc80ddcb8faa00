import { batch } from '@preact/signals-core'
import type { Breaker } from './breaker.ts'
import type { Entry, Queue } from './queue.ts'
import { expiredError, type RetryPolicy } from './retry.ts'
import type { Settlement } from './settlement.ts'
import type { Clock, EmitEnvelope, Transport } from './types.ts'
import { resultsOf, serverAnswered, verdictOf } from './verdict.ts'

type SchedulerContext = {
  queue: Queue
  settlement: Settlement
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
  /** The server answered 401 for `envelope` (its item stays at its lane's head): stop and sign in again. */
  onUnauthorized: (envelope: EmitEnvelope) => void
}

/** The lane scheduler, as the rest of the engine drives it. */
export interface Scheduler {
  /** Pumps once at the end of this tick, however many emits happened in it. */
  schedule(): void
  /** Cuts every current backoff wait short and pumps now (flush, reconnect). */
  expedite(options?: { holds?: boolean }): void
  /** Sends now, skipping backoff waits and holds; settles when nothing more can be sent. */
  flush(): Promise<void>
  /** Aborts every transport call in flight; their items stay pending. */
  abort(): void
  stop(): void
}

/**
 * The lane scheduler: picks each lane's head (plus the ready items behind it, up to the
 * transport's `maxBatch`), within `concurrency` and the breaker; sends; classifies each result;
 * settles the items; starts the next. Lanes never wait for each other; a lane whose head is
 * waiting blocks only itself.
 */
export function createScheduler(ctx: SchedulerContext): Scheduler {
  const { queue, settlement: store, breaker, policy, clock } = ctx
  const maxBatch = Math.max(1, Math.floor(ctx.transport.maxBatch ?? 1))
  const inFlight = new Map<string, AbortController>()
  let seq = 0
  /** Failures numbered up to this skip their backoff wait (flush, reconnect, the breaker closing). */
  let cutoff = 0
  /**
   * emitId → the server's `Retry-After` deadline. Unlike a backoff wait, nothing cuts it short:
   * not `flush()`, not a reconnect, not the breaker closing (shared/API.md: "never retried sooner
   * than it says"). It holds the item and so its lane; other lanes go on (see `settle`).
   */
  const notBefore = new Map<string, number>()
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

  /**
   * A `Retry-After` deadline. Items loaded from storage (`failSeq` 0) lost the in-memory one, so a
   * stored 429/503 keeps its `nextAttemptAt`: at worst that is a backoff wait kept once more.
   */
  const throttledUntil = (entry: Entry): number => {
    const at = notBefore.get(entry.item.emitId)
    if (at !== undefined) return at
    const e = entry.item.lastError
    return entry.failSeq === 0 && e?.kind === 'http' && (e.code === 429 || e.code === 503)
      ? (entry.item.nextAttemptAt ?? 0)
      : 0
  }

  /**
   * Ready items at the front of a lane, dropping stale and expiring old heads on the way. A probe
   * (the breaker is not closed) skips backoff waits: the breaker's cooldown paces it instead.
   */
  const take = (lane: string, now: number, probe: boolean): { ready: Entry[]; readyAt: number } => {
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
      // Only the head's backoff counts: the items behind it failed in the head's calls, each with
      // its own jitter, and waiting for theirs would split a failed batch into smaller ones.
      const backoffUntil = !probe && ready.length === 0 && entry.failSeq > cutoff ? (item.nextAttemptAt ?? 0) : 0
      const readyAt = Math.max(skipHolds ? 0 : p.holdUntil, backoffUntil, throttledUntil(entry))
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
    if (notBefore.size > 0) for (const [id, at] of notBefore) if (at <= now || !queue.get(id)) notBefore.delete(id)
    batch(() => {
      for (const lane of [...queue.lanes.keys()]) {
        // Only calls in flight hold a slot: a lane that waits (backoff, Retry-After) holds none.
        if (inFlight.size >= ctx.concurrency) break
        if (inFlight.has(lane)) continue
        const { ready, readyAt } = take(lane, now, breaker.state.peek() !== 'closed')
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
      if (probe) breaker.cancelProbe()
      batch(() => {
        for (const { item } of sent) if (queue.get(item.emitId)) store.update(item.emitId, { status: 'queued' })
      })
    } else batch(() => settle(lane, sent, results, thrown, probe))
    if (queue.entries().size === 0) ctx.onDrained()
    pump()
  }

  /**
   * Settles each item of a call by its verdict, then tells the breaker how the call went: one
   * answer from the server (an ack, a terminal error, a 401) in the call means the server is up.
   */
  function settle(lane: string, sent: Entry[], results: unknown, thrown: unknown, probe: boolean): void {
    const now = clock.now()
    let answered = false
    let retryAfterUntil: number | undefined
    for (const [{ item }, result] of resultsOf(sent, results, thrown)) {
      answered ||= serverAnswered(policy, result)
      const entry = queue.get(item.emitId)
      if (!entry) continue // discarded or cleared while in flight
      const verdict = verdictOf(policy, entry, result, now, ctx.random)
      if (verdict.kind === 'ack') store.ack(item.emitId, verdict.ack)
      else if (verdict.kind === 'fail') store.fail(item.emitId, verdict.error)
      else if (verdict.kind === 'sign-in') {
        // Not a failure: the item keeps its place and the attempt it just used.
        store.update(item.emitId, { status: 'queued', attempts: item.attempts, lastError: verdict.error })
        ctx.onUnauthorized(store.envelopeOf(entry.item))
      } else {
        const at = now + verdict.waitMs
        // Retry-After holds this item (and so its lane) exactly that long; other lanes go on. A
        // server that sends it now and then, to a few requests, still answers the rest, and holding
        // every lane for it costs the whole queue a second each time. When every lane fails, the
        // breaker opens and holds all of them at least until the latest Retry-After it saw.
        if (verdict.retryAfter) {
          notBefore.set(item.emitId, at)
          retryAfterUntil = Math.max(retryAfterUntil ?? 0, at)
        } else notBefore.delete(item.emitId)
        store.update(
          item.emitId,
          { status: 'waiting', nextAttemptAt: at, lastError: verdict.error },
          { failSeq: ++seq },
        )
      }
    }
    if (!answered)
      breaker.failure({
        lane,
        probe,
        lanes: queue.lanes.size,
        ...(retryAfterUntil === undefined ? {} : { retryAfterUntil }),
      })
    // The server is back after an outage: the backoff waits the outage piled up are moot.
    else if (breaker.success()) cutoff = seq
  }

  function settleFlush(): void {
    if (flushWaiters.length === 0 || inFlight.size > 0) return
    const waiters = flushWaiters
    flushWaiters = []
    skipHolds = false
    for (const resolve of waiters) resolve()
  }

  return {
    schedule(): void {
      if (scheduled) return
      scheduled = true
      queueMicrotask(pump)
    },
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
