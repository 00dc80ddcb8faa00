import { batch, computed, effect, type ReadonlySignal, signal } from '@preact/signals-core'
import { createBreaker } from './breaker.ts'
import { normalizeCoalesce, resolvePolicy } from './coalesce.ts'
import { createEmitter, reportError } from './emitter.ts'
import { assertSize, resolveKeys, takePayload } from './envelope.ts'
import { InvalidEmitError, OutboxClosedError, OutboxError, OutboxFullError } from './errors.ts'
import { defaultNetwork } from './network.ts'
import { onPageHide } from './page-hide.ts'
import { openPersistence } from './persistence.ts'
import { createQueue } from './queue.ts'
import { normalizeRetry } from './retry.ts'
import { createScheduler } from './scheduler.ts'
import { createStore } from './store.ts'
import type {
  Clock,
  DeliveryStatus,
  EmitEnvelope,
  EmitOptions,
  Outbox,
  OutboxEvents,
  OutboxItem,
  OutboxOptions,
  OutboxState,
} from './types.ts'
import { createIdFactory } from './ulid.ts'

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
}

/**
 * A pending item with the same property order every time: one hidden class for all items (a
 * spread of a parsed envelope gives each its own, about 300 bytes apiece).
 */
const newItem = (e: EmitEnvelope): OutboxItem => ({
  emitId: e.emitId,
  event: e.event,
  payload: e.payload,
  keys: e.keys,
  lane: e.lane,
  createdAt: e.createdAt,
  status: 'queued',
  attempts: 0,
})

/** `payload.chatId ?? payload.streamId ?? 'default'` */
export const defaultLane = (_event: string, payload: Record<string, unknown>): string => {
  const lane = payload.chatId ?? payload.streamId
  return typeof lane === 'string' || typeof lane === 'number' ? String(lane) : 'default'
}

function assertOptions(options: OutboxOptions): void {
  if (typeof options?.transport?.send !== 'function')
    throw new OutboxError('createOutbox needs a transport, e.g. { transport: httpTransport({ url: "/api/events" }) }.')
  const positive = { maxSize: options.maxSize, concurrency: options.concurrency }
  for (const [name, value] of Object.entries(positive))
    if (value !== undefined && !(Number.isInteger(value) && value > 0))
      throw new OutboxError(`options.${name} must be a whole number above 0; got ${String(value)}.`)
  if (options.mode !== undefined && options.mode !== 'memory' && options.mode !== 'persistent')
    throw new OutboxError(`options.mode must be 'memory' or 'persistent'; got ${String(options.mode)}.`)
}

/**
 * Creates an outbox: `emit` records an event at once (for optimistic UI) and delivers it at least
 * once, in order within its lane, with backoff, `Retry-After`, a circuit breaker and coalescing.
 */
export function createOutbox(options: OutboxOptions): Outbox {
  assertOptions(options)
  const clock = options.clock ?? realClock
  const random = options.random ?? Math.random
  const policy = normalizeRetry(options.retry)
  const coalesce = normalizeCoalesce(options.coalesce)
  const laneOf = options.lane ?? defaultLane
  const maxSize = options.maxSize ?? 10_000
  const network = options.network ?? defaultNetwork()
  const nextId = createIdFactory(options.random)

  const events = createEmitter<OutboxEvents>()
  const queue = createQueue()
  const store = createStore(queue, events)
  const breaker = createBreaker(options.breaker, clock)
  const online = signal(network.online)
  const paused = signal(false)
  let closed = false

  const scheduler = createScheduler({
    queue,
    store,
    breaker,
    policy,
    clock,
    random,
    transport: options.transport,
    concurrency: options.concurrency ?? 4,
    canSend: () => !closed && persistence.started() && !paused.peek() && online.peek() && persistence.leading(),
    watermark: () => persistence.watermark(),
    onDrained: () => events.emit('outbox:flushed', undefined),
  })

  const persistence = openPersistence(options, { queue, store, events, clock, scheduler })
  const ready = persistence.ready

  const stopNetwork = network.subscribe((isOnline) => {
    if (isOnline === online.peek()) return
    online.value = isOnline
    if (isOnline) scheduler.expedite()
  })

  // The last moment of a closing tab: each lane with nothing in flight hands its next items (one
  // request per lane, so nothing overtakes) to keepalive requests. They stay stored until a later
  // session sees their ack; the server deduplicates the resend.
  const stopPageHide = onPageHide(() => {
    persistence.hidden()
    const beacon = options.transport.sendBeacon
    if (
      closed ||
      !persistence.started() ||
      persistence.watermark() !== undefined ||
      !online.peek() ||
      !persistence.leading() ||
      !beacon
    )
      return
    const perLane = Math.max(1, options.transport.maxBatch ?? 1)
    const groups: EmitEnvelope[][] = []
    for (const lane of queue.lanes.keys()) {
      const items = queue.laneIds(lane, perLane).map((id) => queue.get(id)?.item)
      if (items.some((item) => !item || item.status === 'sending')) continue
      groups.push(items.map((item) => store.envelopeOf(item as OutboxItem)))
    }
    if (groups.length > 0) beacon.call(options.transport, groups)
  }, persistence.restored)

  const state: ReadonlySignal<OutboxState> = computed(() => {
    const s: OutboxState = {
      pending: queue.pending.value,
      failed: queue.failed.value,
      size: queue.size.value,
      online: online.value,
      breaker: breaker.state.value,
      paused: paused.value,
    }
    const retryAt = breaker.retryAt.value
    if (retryAt !== undefined) s.breakerRetryAt = retryAt
    return s
  })

  // One notification per tick, however many changes it held: subscribers and 'outbox:update'.
  const subscribers = new Set<(s: OutboxState) => void>()
  let notifyQueued = false
  const notify = () => {
    notifyQueued = false
    if (subscribers.size === 0 && !events.has('outbox:update')) return
    const s = state.peek()
    for (const run of subscribers) {
      try {
        run(s)
      } catch (error) {
        reportError(error)
      }
    }
    const head = s.pending[0]
    events.emit('outbox:update', head ? { size: s.size, head: store.envelopeOf(head) } : { size: s.size })
  }
  let first = true
  const stopWatching = effect(() => {
    queue.version.value
    online.value
    breaker.state.value
    breaker.retryAt.value
    paused.value
    if (first) first = false
    else if (!notifyQueued) {
      notifyQueued = true
      queueMicrotask(notify)
    }
  })

  function emit(event: string, input: Record<string, unknown>, opts?: EmitOptions): EmitEnvelope {
    if (closed) throw new OutboxClosedError()
    const { payload, bound } = takePayload(event, input)
    const keys = resolveKeys(payload, opts?.keys)
    const lane = opts?.lane ?? laneOf(event, payload)
    if (typeof lane !== 'string' || lane === '')
      throw new InvalidEmitError('The lane must be a non-empty string (check options.lane or the lane function).', {
        path: 'lane',
      })
    const duplicate = keys && queue.find(keys)
    if (duplicate) return store.envelopeOf(duplicate.item)
    const now = clock.now()
    const emitPolicy = resolvePolicy(event, payload, lane, opts, coalesce, now)
    // Replaces every item of the same key that is not yet in flight (one may be in flight).
    const replaced = emitPolicy.coalesceKey === undefined ? [] : queue.findAll(emitPolicy.coalesceKey)
    if (queue.entries().size - replaced.length >= maxSize) throw new OutboxFullError(maxSize)
    const envelope: EmitEnvelope = { emitId: nextId(now), event, payload, lane, createdAt: now }
    if (keys) envelope.keys = keys
    assertSize(envelope, bound)
    // Scheduled before the change, so the first send starts before subscribers hear of the burst.
    scheduler.schedule()
    batch(() => {
      for (const entry of replaced) store.drop(entry.item.emitId, 'coalesced')
      store.add({ item: newItem(envelope), policy: emitPolicy, ageFrom: now, failSeq: 0 })
    })
    // Another tab sends for this key: durable items reach it through storage, the rest directly.
    if (!emitPolicy.durable) persistence.forwardEmit(envelope.emitId)
    return envelope
  }

  const statusOf = (emitId: string): DeliveryStatus => {
    const entry = queue.get(emitId)
    if (entry) return entry.item.status
    if (queue.failedItems.has(emitId)) return 'failed'
    return store.isAcked(emitId) ? 'delivered' : 'unknown'
  }

  const outbox: Outbox = {
    ready,
    emit,
    pending: queue.pending,
    failed: queue.failed,
    size: queue.size,
    online,
    breaker: breaker.state,
    state,
    subscribe(run) {
      run(state.value)
      subscribers.add(run)
      return () => void subscribers.delete(run)
    },
    on: events.on as Outbox['on'],
    delivered: (emitId) => store.delivered(emitId),
    status: (emitId) =>
      computed(() => {
        queue.version.value
        return statusOf(emitId)
      }),
    lane: (name) => {
      let last: readonly OutboxItem[] = []
      return computed(() => {
        queue.version.value
        const items = queue
          .laneIds(name)
          .map((id) => queue.get(id)?.item)
          .filter((i): i is OutboxItem => i !== undefined)
        // Unchanged lane, same array: a chat view does not re-render for other chats' traffic.
        if (items.length === last.length && items.every((item, i) => item === last[i])) return last
        return (last = items)
      })
    },
    flush: () => {
      if (closed) return Promise.resolve()
      persistence.forward({ op: 'flush' })
      return scheduler.flush()
    },
    retry(emitId) {
      if (closed) throw new OutboxClosedError()
      const now = clock.now()
      const ids = emitId === undefined ? [...queue.failedItems.keys()] : [emitId]
      const room = maxSize - queue.entries().size
      batch(() => {
        for (const id of ids.slice(0, Math.max(0, room))) store.retry(id, now)
      })
      persistence.forward(emitId === undefined ? { op: 'retry-all' } : { op: 'retry', emitId })
      scheduler.schedule()
      // What did not fit stays in the failed list, nothing is lost; the caller learns why.
      if (ids.length > room && ids.some((id) => queue.failedItems.has(id))) throw new OutboxFullError(maxSize)
    },
    discard(emitId) {
      store.drop(emitId, 'discarded')
      persistence.forward({ op: 'discard', emitId })
    },
    pause() {
      paused.value = true
    },
    resume() {
      if (!paused.peek()) return
      paused.value = false
      scheduler.schedule()
    },
    async clear() {
      persistence.forward({ op: 'clear' })
      scheduler.abort()
      store.rejectAll(new OutboxError('The outbox was cleared before this event was delivered.'))
      store.clear()
      breaker.reset()
      await persistence.clear()
    },
    async close(opts) {
      if (closed) return
      if (opts?.flush) await outbox.flush()
      closed = true
      scheduler.stop()
      stopNetwork()
      stopPageHide()
      stopWatching()
      await persistence.close()
      store.rejectAll(new OutboxClosedError())
      events.clear()
      subscribers.clear()
    },
  }
  return outbox
}
