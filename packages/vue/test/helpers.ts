import {
  type Clock,
  createOutbox,
  type DeliveryResult,
  type EmitEnvelope,
  type NetworkMonitor,
  type Outbox,
} from '@outbox/core'

/** A manual clock: time moves only when a test advances it. Nothing here waits on wall-clock time. */
export function fakeClock(start = 1_700_000_000_000) {
  let now = start
  let nextId = 0
  const timers = new Map<number, { at: number; fn: () => void }>()
  return {
    now: () => now,
    setTimeout: (fn: () => void, ms: number) => {
      timers.set(++nextId, { at: now + Math.max(0, ms), fn })
      return nextId
    },
    clearTimeout: (id: unknown) => void timers.delete(id as number),
    /** Fires every timer due within `ms`, in time order. */
    advance(ms: number) {
      now += ms
      for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at))
        if (t.at <= now) {
          timers.delete(id)
          t.fn()
        }
    },
  } satisfies Clock & Record<string, unknown>
}

/** A transport whose calls stay open until the test answers them. */
export function manualTransport() {
  const open: Array<{ batch: readonly EmitEnvelope[]; resolve: (r: DeliveryResult[]) => void }> = []
  return {
    open,
    send: (batch: readonly EmitEnvelope[]) => new Promise<DeliveryResult[]>((resolve) => open.push({ batch, resolve })),
    /** Answers the oldest open call with `fn`'s results (default: ack all). */
    answer(fn: (e: EmitEnvelope) => DeliveryResult = ack) {
      const call = open.shift()
      if (!call) throw new Error('no open transport call')
      call.resolve(call.batch.map(fn))
    },
  }
}

export const ack = (e: EmitEnvelope): DeliveryResult => ({
  emitId: e.emitId,
  ok: true,
  ack: { ok: true, emitId: e.emitId },
})

/** An HTTP 403 whose error carries the server's hint; the core fails it at once (a hard error). */
export const forbidden =
  (hint: string) =>
  (e: EmitEnvelope): DeliveryResult => ({
    emitId: e.emitId,
    ok: false,
    error: { kind: 'http', code: 403, message: 'HTTP 403', retryable: false, hint },
  })

const online: NetworkMonitor = { online: true, subscribe: () => () => {} }

/** A fresh outbox on fake time and a manual transport, and a count of its live subscriptions. */
export function setup() {
  const clock = fakeClock()
  const transport = manualTransport()
  const outbox = createOutbox({ transport, clock, network: online, random: () => 0.5, retry: { jitter: false } })
  return { outbox, clock, transport, liveSubscriptions: countSubscriptions(outbox) }
}

/** Wraps `outbox.subscribe` so a test can see how many subscriptions are still live. */
export function countSubscriptions(outbox: Outbox) {
  const subscribe = outbox.subscribe.bind(outbox)
  let live = 0
  outbox.subscribe = (run) => {
    const stop = subscribe(run)
    let stopped = false
    live++
    return () => {
      if (!stopped) live--
      stopped = true
      stop()
    }
  }
  return () => live
}
