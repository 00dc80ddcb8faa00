import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { idbStorage } from '../src/idb-storage.ts'
import { createOutbox } from '../src/outbox.ts'
import { RECORD_VERSION } from '../src/record.ts'
import { manualNetwork, testClock } from '../src/testing.ts'
import type { DeliveryResult, EmitEnvelope, OutboxOptions, Transport } from '../src/types.ts'
import { createIdFactory } from '../src/ulid.ts'

/** A persistenceKey no other test uses. */
export const uniqueKey = (name: string) => `${name}-${Math.random().toString(36).slice(2)}`

/** Lets every queued microtask and promise callback run (a macrotask turn; no wall-clock wait). */
export const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Lets `n` macrotask turns pass (fake-indexeddb works on macrotasks), without wall-clock waits. */
export async function turns(n: number) {
  for (let i = 0; i < n; i++) await tick()
}

/** Waits turn by turn until `condition` holds; throws after `max` turns. */
export async function until(condition: () => boolean, max = 500) {
  for (let i = 0; i < max; i++) {
    if (condition()) return
    await tick()
  }
  throw new Error('condition not met')
}

/** A manual clock: time moves only when a test advances it, running due timers in order (the kit's). */
export const fakeClock = testClock

export type Reply = DeliveryResult[] | Promise<DeliveryResult[]> | Error

/** A transport that records each call and answers through `reply` (default: ack everything). */
export function fakeTransport(
  reply: (batch: readonly EmitEnvelope[], call: number) => Reply = (b) => b.map(ack),
  maxBatch = 1,
) {
  const calls: EmitEnvelope[][] = []
  let active = 0
  let maxActive = 0
  const transport: Transport & { calls: EmitEnvelope[][]; sent: () => string[]; maxActive: () => number } = {
    maxBatch,
    calls,
    sent: () => calls.flat().map((e) => e.emitId),
    maxActive: () => maxActive,
    async send(batch) {
      calls.push([...batch])
      active++
      maxActive = Math.max(maxActive, active)
      try {
        const r = reply(batch, calls.length)
        if (r instanceof Error) throw r
        return await r
      } finally {
        active--
      }
    },
  }
  return transport
}

/** A transport whose calls stay open until the test settles them. */
export function heldTransport(maxBatch = 1) {
  const open: Array<{
    batch: readonly EmitEnvelope[]
    resolve: (r: DeliveryResult[]) => void
    reject: (e: Error) => void
    signal: AbortSignal
  }> = []
  const transport = {
    maxBatch,
    open,
    send(batch: readonly EmitEnvelope[], signal: AbortSignal) {
      return new Promise<DeliveryResult[]>((resolve, reject) => {
        open.push({ batch, resolve, reject, signal })
        signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')))
      })
    },
    /** Settles the oldest open call with `fn`'s results (default: ack all). */
    settle(fn: (batch: readonly EmitEnvelope[]) => DeliveryResult[] = (b) => b.map(ack)) {
      const call = open.shift()
      if (!call) throw new Error('no open call')
      call.resolve(fn(call.batch))
      return call.batch
    },
  }
  return transport
}

export const ack = (e: EmitEnvelope): DeliveryResult => ({
  emitId: e.emitId,
  ok: true,
  ack: { ok: true, emitId: e.emitId },
})
export const httpError = (e: EmitEnvelope, code: number, retryAfterMs?: number): DeliveryResult => ({
  emitId: e.emitId,
  ok: false,
  error: { kind: 'http', code, message: `HTTP ${code}`, retryable: true },
  ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
})

export { manualNetwork }

/** A fresh outbox on fake time with no jitter unless a test asks for it. */
export function setup(options: Partial<OutboxOptions> = {}, transport: Transport = fakeTransport()) {
  const clock = fakeClock()
  const network = manualNetwork()
  const outbox = createOutbox({
    transport,
    clock,
    network,
    random: () => 0.5,
    ...options,
    retry: { jitter: false, ...options.retry },
  })
  return { outbox, clock, network, transport }
}

/**
 * Stores a pending record (or, with `failed`, a failed one) behind the outboxes' backs, as a tab
 * that died right after its write would.
 */
export async function storeUnannounced(key: string, now: number, failed = false): Promise<string> {
  const emitId = createIdFactory()(now)
  const item = {
    emitId,
    event: 'm',
    payload: { chatId: 'c' },
    lane: 'c',
    createdAt: now,
    ...(failed
      ? { status: 'failed', attempts: 1, error: { kind: 'http', code: 403, message: 'Forbidden', retryable: false } }
      : { status: 'queued', attempts: 0 }),
  }
  await idbStorage(key).write([[emitId, { v: RECORD_VERSION, item, ageFrom: now }]], [])
  return emitId
}

/**
 * Listens on a free 127.0.0.1 port; `close()` cuts open connections and stops the server (tests
 * push it to their cleanups).
 */
export async function listenLocal(server: Server): Promise<{ origin: string; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close }
}
