import { batch, type Signal } from '@preact/signals-core'
import type { Auth } from './auth.ts'
import type { Breaker } from './breaker.ts'
import { OutboxClosedError, OutboxError, OutboxFullError } from './errors.ts'
import type { Command, Persistence } from './persistence.ts'
import type { Queue } from './queue.ts'
import type { Scheduler } from './scheduler.ts'
import type { Settlement } from './settlement.ts'
import type { Clock, Outbox } from './types.ts'

/** The public control calls; each runs here and is forwarded to the sender when another tab sends. */
export type ControlCalls = Pick<Outbox, 'flush' | 'retry' | 'discard' | 'pause' | 'resume' | 'clear'>

export interface Controls {
  /** The calls, as the outbox offers them. */
  calls: ControlCalls
  /** A control call another tab forwarded to this one, the sender. */
  run(cmd: Command): void
}

export function createControls(ctx: {
  /** True once the outbox is closed: flush then resolves at once, retry throws. */
  closed: () => boolean
  /** Called first by `clear`: a batch armed for the page's end must not go out. */
  beforeClear: () => void
  queue: Queue
  settlement: Settlement
  scheduler: Scheduler
  persistence: Persistence
  breaker: Breaker
  auth: Auth
  clock: Clock
  paused: Signal<boolean>
  maxSize: number
}): Controls {
  const { queue, settlement, scheduler, persistence, clock, paused, maxSize } = ctx
  /**
   * Moves failed items (one, or all) back into their lanes, as many as `maxSize` leaves room for;
   * false when some stayed in the failed list for want of room.
   */
  const retryFailed = (emitId: string | undefined): boolean => {
    const now = clock.now()
    const ids = emitId === undefined ? [...queue.failedItems.keys()] : [emitId]
    const room = maxSize - queue.entries().size
    batch(() => {
      for (const id of ids.slice(0, Math.max(0, room))) settlement.retry(id, now)
    })
    return ids.length <= room || !ids.some((id) => queue.failedItems.has(id))
  }
  const calls: ControlCalls = {
    flush() {
      if (ctx.closed()) return Promise.resolve()
      ctx.auth.ok()
      persistence.forward({ op: 'flush' })
      return scheduler.flush()
    },
    retry(emitId) {
      if (ctx.closed()) throw new OutboxClosedError()
      const fitted = retryFailed(emitId)
      persistence.forward(emitId === undefined ? { op: 'retry-all' } : { op: 'retry', emitId })
      scheduler.schedule()
      // What did not fit stays in the failed list, nothing is lost; the caller learns why.
      if (!fitted) throw new OutboxFullError(maxSize)
    },
    discard(emitId) {
      settlement.drop(emitId, 'discarded')
      persistence.forward({ op: 'discard', emitId })
    },
    pause: () => void (paused.value = true),
    resume() {
      ctx.auth.ok()
      if (!paused.peek()) return
      paused.value = false
      scheduler.schedule()
    },
    async clear() {
      ctx.beforeClear()
      persistence.forward({ op: 'clear' })
      scheduler.abort()
      settlement.rejectAll(new OutboxError('The outbox was cleared before this event was delivered.'))
      settlement.clear()
      ctx.breaker.reset()
      await persistence.clear()
    },
  }
  return {
    calls,
    run(cmd) {
      if (cmd.op === 'discard') settlement.drop(cmd.emitId, 'discarded')
      else if (cmd.op === 'retry') retryFailed(cmd.emitId)
      else if (cmd.op === 'retry-all') retryFailed(undefined)
      else if (cmd.op === 'flush') {
        ctx.auth.ok()
        void scheduler.flush()
      } else if (cmd.op === 'clear') void persistence.clear()
      scheduler.schedule()
    },
  }
}
