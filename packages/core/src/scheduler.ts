import { batch } from '@preact/signals-core'
import { envelopeOf } from './envelope.ts'
import { createHolds, type Holds } from './holds.ts'
import { laneAt, toBack } from './lanes.ts'
import type { Entry } from './queue.ts'
import { expiredError } from './retry.ts'
import { type CallContext, settleCall } from './settle-call.ts'
import type { Transport } from './types.ts'
import { createWakeTimer } from './wake-timer.ts'

type SchedulerContext = CallContext & {
  transport: Transport
  concurrency: number
  /** False while closed, paused, offline, not ready, or not the tab that sends. */
  canSend: () => boolean
  /** While stored items are still loading: nothing with a later emitId may be sent. */
  watermark: () => string | undefined
  onDrained: () => void
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
  const { queue, settlement: store, breaker, clock } = ctx
  const maxBatch = Math.max(1, Math.floor(ctx.transport.maxBatch ?? 1))
  const inFlight = new Map<string, AbortController>()
  const holds = createHolds()
  let skipHolds = false
  let scheduled = false
  let flushWaiters: Array<() => void> = []
  const wake = createWakeTimer(clock, () => pump())
  const taking: TakeContext = { ...ctx, holds, maxBatch, skipHolds: () => skipHolds }

  function pump(): void {
    scheduled = false
    if (!ctx.canSend()) {
      settleFlush()
      return
    }
    const now = clock.now()
    let earliest = Infinity
    holds.prune(now, (id) => queue.get(id) !== undefined)
    batch(() => {
      for (const lane of [...queue.lanes.keys()]) {
        // Only calls in flight hold a slot: a lane that waits (backoff, Retry-After) holds none.
        if (inFlight.size >= ctx.concurrency) break
        if (inFlight.has(lane)) continue
        const { ready, readyAt } = takeReady(taking, lane, now, breaker.state.peek() !== 'closed')
        if (ready.length === 0) {
          earliest = Math.min(earliest, readyAt)
          continue
        }
        const gate = breaker.allow()
        if (!gate) {
          earliest = Math.min(earliest, breaker.retryAt.value ?? Infinity)
          break
        }
        void send(lane, gate === 'probe' ? ready.slice(0, 1) : ready, gate === 'probe')
      }
    })
    if (earliest < Infinity) wake.at(earliest)
    settleFlush()
  }

  async function send(lane: string, sent: Entry[], probe: boolean): Promise<void> {
    const controller = new AbortController()
    inFlight.set(lane, controller)
    toBack(queue.lanes, lane) // round-robin: the lane that just got a turn goes to the back of the line
    store.sending(sent)
    let results: unknown
    let thrown: unknown
    try {
      results = await ctx.transport.send(
        sent.map((e) => envelopeOf(e.item)),
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
    } else batch(() => settleCall(ctx, holds, { lane, sent, results, thrown, probe }))
    if (queue.entries().size === 0) ctx.onDrained()
    pump()
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
      holds.cut()
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
      wake.stop()
      this.abort()
      settleFlush()
    },
  }
}

type TakeContext = Pick<SchedulerContext, 'queue' | 'settlement' | 'policy' | 'watermark'> & {
  holds: Holds
  maxBatch: number
  /** True during a flush: emit-time holds (typing) do not wait. */
  skipHolds: () => boolean
}

/**
 * Ready items at the front of a lane, dropping stale and expiring old heads on the way; else when
 * the head is ready. A probe (the breaker is not closed) skips backoff waits: the breaker's
 * cooldown paces it instead.
 */
function takeReady(ctx: TakeContext, lane: string, now: number, probe: boolean): { ready: Entry[]; readyAt: number } {
  const { queue, settlement, policy, holds } = ctx
  const ready: Entry[] = []
  const watermark = ctx.watermark()
  while (ready.length < ctx.maxBatch) {
    const id = laneAt(queue.lanes, lane, ready.length)
    const entry = id === undefined ? undefined : queue.get(id)
    if (!entry || (watermark !== undefined && entry.item.emitId > watermark)) break
    const { item, policy: p } = entry
    if (p.ttlMs !== undefined && now - item.createdAt > p.ttlMs) {
      settlement.drop(item.emitId, 'stale')
      continue
    }
    if (now - entry.ageFrom >= policy.maxAgeMs) {
      settlement.fail(item.emitId, expiredError(policy.maxAgeMs))
      continue
    }
    // Only the head's backoff counts: the items behind it failed in the head's calls, each with
    // its own jitter, and waiting for theirs would split a failed batch into smaller ones.
    const readyAt = Math.max(ctx.skipHolds() ? 0 : p.holdUntil, holds.readyAt(entry, probe || ready.length > 0))
    if (readyAt > now) return { ready, readyAt: ready.length === 0 ? readyAt : Infinity }
    ready.push(entry)
  }
  return { ready, readyAt: Infinity }
}
