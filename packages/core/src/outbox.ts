import { signal } from '@preact/signals-core'
import { createAuth } from './auth.ts'
import { createBreaker } from './breaker.ts'
import { normalizeCoalesce } from './coalesce.ts'
import { createControls } from './controls.ts'
import { createEmit, defaultLane } from './emit.ts'
import { createEmitter } from './emitter.ts'
import { OutboxClosedError, OutboxError } from './errors.ts'
import { browserHost } from './host.ts'
import { createStateView } from './outbox-state.ts'
import { watchPageLife } from './page-life.ts'
import { openPersistence } from './persistence.ts'
import { createQueue } from './queue.ts'
import { normalizeRetry } from './retry.ts'
import { createScheduler } from './scheduler.ts'
import { createSettlement } from './settlement.ts'
import type { Outbox, OutboxEvents, OutboxOptions } from './types.ts'
import { createIdFactory } from './ulid.ts'
import { laneView, statusView } from './views.ts'

export { defaultLane } from './emit.ts'

function assertOptions(options: OutboxOptions): void {
  if (typeof options?.transport?.send !== 'function')
    throw new OutboxError('createOutbox needs a transport, e.g. { transport: httpTransport({ url: "/api/events" }) }.')
  const positive = { maxSize: options.maxSize, concurrency: options.concurrency }
  for (const [name, value] of Object.entries(positive))
    if (value !== undefined && !(Number.isInteger(value) && value > 0))
      throw new OutboxError(`options.${name} must be a whole number above 0; got ${String(value)}.`)
  if (options.mode !== undefined && options.mode !== 'memory' && options.mode !== 'persistent')
    throw new OutboxError(`options.mode must be 'memory' or 'persistent'; got ${String(options.mode)}.`)
  if (options.backgroundSync !== undefined && typeof options.backgroundSync !== 'boolean')
    throw new OutboxError(`options.backgroundSync must be true or false; got ${String(options.backgroundSync)}.`)
}

/**
 * Creates an outbox: `emit` records an event at once (for optimistic UI) and delivers it at least
 * once, in order within its lane, with backoff, `Retry-After`, a circuit breaker and coalescing.
 * This function only composes the parts along the data path: emit → queue and settlement (with
 * persistence) → scheduler → transport → settlement; the host supplies the surroundings.
 */
export function createOutbox(options: OutboxOptions): Outbox {
  assertOptions(options)
  const host = options.host ?? browserHost(options)
  const { clock } = host
  const maxSize = options.maxSize ?? 10_000
  const events = createEmitter<OutboxEvents>()
  const queue = createQueue()
  const settlement = createSettlement(queue, events)
  const breaker = createBreaker(options.breaker, clock)
  const online = signal(host.network.online)
  const paused = signal(false)
  let closed = false

  const auth = createAuth(events, options.onUnauthorized, () => scheduler.schedule())
  const persistence = openPersistence(options, { queue, settlement, events, host })
  /** Whether this outbox may send now: the scheduler's rule, and the last-chance send's as the page hides. */
  const canSend = () =>
    !closed &&
    persistence.started() &&
    !paused.peek() &&
    online.peek() &&
    auth.state.peek() === 'ok' &&
    persistence.leading()
  const scheduler = createScheduler({
    queue,
    settlement,
    breaker,
    policy: normalizeRetry(options.retry),
    clock,
    random: options.random ?? Math.random,
    transport: options.transport,
    concurrency: options.concurrency ?? 4,
    canSend,
    watermark: () => persistence.watermark(),
    onDrained: () => events.emit('outbox:flushed', undefined),
    onUnauthorized: (envelope) => auth.required(envelope),
  })
  persistence.onWake(() => {
    scheduler.schedule()
    pageLife.changed()
  })
  persistence.onCommand((cmd) => controls.run(cmd))
  const view = createStateView({ queue, breaker, online, paused, auth: auth.state, events })
  const emit = createEmit({
    closed: () => closed,
    queue,
    settlement,
    clock,
    coalesce: normalizeCoalesce(options.coalesce),
    laneOf: options.lane ?? defaultLane,
    maxSize,
    nextId: createIdFactory(options.random),
    beforeAdd: () => scheduler.schedule(),
    // Another tab sends for this key: durable items reach it through storage, the rest directly.
    added: (envelope, policy) => policy.durable || persistence.forwardEmit(envelope.emitId),
  })

  const stopNetwork = host.network.subscribe((isOnline) => {
    if (isOnline === online.peek()) return
    online.value = isOnline
    if (isOnline) scheduler.expedite()
  })
  const pageLife = watchPageLife({
    options,
    host,
    queue,
    persistence,
    online,
    paused,
    canSend,
  })
  const controls = createControls({
    closed: () => closed,
    beforeClear: () => pageLife.abort(),
    queue,
    settlement,
    scheduler,
    persistence,
    breaker,
    auth,
    clock,
    paused,
    maxSize,
  })
  const outbox: Outbox = {
    ...controls.calls,
    ready: persistence.ready,
    emit,
    pending: queue.pending,
    failed: queue.failed,
    size: queue.size,
    online,
    breaker: breaker.state,
    auth: auth.state,
    state: view.state,
    subscribe: view.subscribe,
    on: events.on as Outbox['on'],
    delivered: (emitId) => settlement.delivered(emitId),
    status: (emitId) => statusView(queue, settlement, emitId),
    lane: (name) => laneView(queue, name),
    async close(opts) {
      if (closed) return
      if (opts?.flush) await outbox.flush()
      closed = true
      pageLife.close()
      scheduler.stop()
      stopNetwork()
      view.close()
      await persistence.close()
      settlement.rejectAll(new OutboxClosedError())
      events.clear()
    },
  }
  return outbox
}
