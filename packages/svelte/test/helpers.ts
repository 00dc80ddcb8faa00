// The few bits of packages/core/test/helpers.ts these tests need, on this package's public API.
import { flushSync } from 'svelte'
import {
  type Clock,
  createOutbox,
  type DeliveryResult,
  type EmitEnvelope,
  manualNetwork,
  type Outbox,
  type OutboxState,
  type SignalLike,
} from '../src/index.ts'

const immediate = (globalThis as unknown as { setImmediate: (fn: () => void) => void }).setImmediate

/** Lets queued microtasks, transport promises and Svelte's updates run (one macrotask turn; no wall-clock wait). */
export async function settle(): Promise<void> {
  await new Promise<void>((resolve) => immediate(resolve))
  flushSync()
}

/** Time that moves only when a test says so; no test here needs it to move. */
export const stoppedClock = (now = 1_700_000_000_000): Clock => ({
  now: () => now,
  setTimeout: () => 0,
  clearTimeout: () => {},
})

export { manualNetwork }

/** A transport whose calls stay open until the test answers them. */
export function heldTransport() {
  const open: Array<{ batch: readonly EmitEnvelope[]; resolve: (r: DeliveryResult[]) => void }> = []
  return {
    open,
    send: (batch: readonly EmitEnvelope[]) =>
      new Promise<DeliveryResult[]>((resolve) => void open.push({ batch, resolve })),
    /** Answers the oldest open call with `fn`'s results (default: ack all). */
    answer(fn: (e: EmitEnvelope) => DeliveryResult = ack) {
      const call = open.shift()
      if (!call) throw new Error('no open call')
      call.resolve(call.batch.map(fn))
    },
  }
}

export const ack = (e: EmitEnvelope): DeliveryResult => ({
  emitId: e.emitId,
  ok: true,
  ack: { ok: true, emitId: e.emitId },
})

/** What `httpTransport` reports for a 403; the core classifies it as hard and adds the hint. */
export const forbidden = (e: EmitEnvelope): DeliveryResult => ({
  emitId: e.emitId,
  ok: false,
  error: { kind: 'http', code: 403, message: 'HTTP 403', retryable: true },
})

/** A fresh outbox on a stopped clock with a held transport and a manual network. */
export function setup() {
  const transport = heldTransport()
  const network = manualNetwork()
  const outbox = createOutbox({ transport, network, clock: stoppedClock(), random: () => 0.5 })
  return { outbox, transport, network, subscriptions: countSubscriptions(outbox) }
}

/**
 * Wraps the outbox's `subscribe`, its signals and those from `status` and `lane`, so a test can see
 * how many subscriptions a component holds (and that unmounting ends them all).
 */
export function countSubscriptions(outbox: Outbox): () => number {
  let active = 0
  const counted =
    <T>(subscribe: (fn: (value: T) => void) => () => void) =>
    (fn: (value: T) => void) => {
      active++
      const stop = subscribe(fn)
      let stopped = false
      return () => {
        if (!stopped) active--
        stopped = true
        stop()
      }
    }
  const outboxSubscribe = outbox.subscribe.bind(outbox)
  outbox.subscribe = counted<OutboxState>(outboxSubscribe)
  // Preact's signal methods use `this`, so wrap with a plain object rather than a prototype.
  const wrap = <S extends SignalLike<unknown> & { readonly value: unknown }>(signal: S): S =>
    ({
      get value() {
        return signal.value
      },
      peek: () => signal.peek(),
      subscribe: counted((fn) => signal.subscribe(fn)),
    }) as unknown as S
  const status = outbox.status.bind(outbox)
  const lane = outbox.lane.bind(outbox)
  outbox.status = (id) => wrap(status(id))
  outbox.lane = (name) => wrap(lane(name))
  const { pending, failed, size, online } = outbox
  Object.assign(outbox, { pending: wrap(pending), failed: wrap(failed), size: wrap(size), online: wrap(online) })
  return () => active
}
