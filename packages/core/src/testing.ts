/**
 * `@outbox/core/testing`: fakes for testing an app's own outbox flow without a server. A transport
 * that records calls and answers as told, the manual network, and a clock that moves only when
 * the test says so.
 */
import { isRetryableStatus } from './retry.ts'
import type { Clock, DeliveryError, DeliveryResult, EmitEnvelope, Transport } from './types.ts'

export { manualNetwork } from './network.ts'

/** What the fake transport answers for one envelope; build it with `ack`, `rejected`, `httpError`, `networkError` or `hang`. */
export type FakeAnswer =
  | { readonly kind: 'ack'; readonly fields: Record<string, unknown> }
  | { readonly kind: 'error'; readonly error: DeliveryError; readonly retryAfterMs?: number }
  | { readonly kind: 'hang' }

/** An answer, or a function choosing one per envelope (`call` counts the transport's calls from 1). */
export type FakeReply = FakeAnswer | ((envelope: EmitEnvelope, call: number) => FakeAnswer)

/** The server acknowledged the event; `fields` join `{ ok: true, emitId }` in the ack. */
export const ack = (fields: Record<string, unknown> = {}): FakeAnswer => ({ kind: 'ack', fields })

/** The server refused the event (`{ ok: false, code }`); it fails at once unless `retryable`. */
export const rejected = (
  code: string | number,
  options: { retryable?: boolean; message?: string; hint?: string } = {},
): FakeAnswer => ({
  kind: 'error',
  error: {
    kind: 'rejected',
    code,
    message: options.message ?? `The server rejected the event (${code}).`,
    retryable: options.retryable === true,
    ...(options.hint === undefined ? {} : { hint: options.hint }),
  },
})

/**
 * An HTTP error status, classified as `httpTransport` does (the outbox's `hardErrorCodes` decide
 * in the end). `retryAfterMs` plays a `Retry-After` header on a 429 or 503.
 */
export const httpError = (
  status: number,
  options: { retryAfterMs?: number; message?: string; hint?: string } = {},
): FakeAnswer => ({
  kind: 'error',
  error: {
    kind: 'http',
    code: status,
    message: options.message ?? `HTTP ${status}`,
    retryable: isRetryableStatus(status),
    ...(options.hint === undefined ? {} : { hint: options.hint }),
  },
  ...(options.retryAfterMs === undefined ? {} : { retryAfterMs: options.retryAfterMs }),
})

/** The connection failed or timed out: retried with backoff. */
export const networkError = (message = 'The network failed (fake transport).'): FakeAnswer => ({
  kind: 'error',
  error: { kind: 'network', message, retryable: true },
})

/** The call stays open until the test releases it (`transport.release()`) or the outbox aborts it. */
export const hang = (): FakeAnswer => ({ kind: 'hang' })

/** One `send` the outbox made. */
export interface FakeCall {
  readonly envelopes: readonly EmitEnvelope[]
  readonly signal: AbortSignal
  /** `hanging` until released or aborted. */
  readonly state: 'answered' | 'hanging' | 'aborted'
  /** Answers a hanging call (default: ack); throws if it is not hanging. */
  release(reply?: FakeReply): void
}

export interface FakeTransport extends Transport {
  readonly maxBatch: number
  /** Every call, oldest first. */
  readonly calls: readonly FakeCall[]
  /** The envelopes of every call, oldest first; a retried envelope appears once per attempt. */
  sent(): EmitEnvelope[]
  /** Answers the next calls, one reply per call, in order; after them the default reply again. */
  next(...replies: FakeReply[]): FakeTransport
  /** Calls left open by `hang()`, oldest first. */
  hanging(): FakeCall[]
  /** Answers the oldest hanging call (default: ack) and returns it; throws if none hangs. */
  release(reply?: FakeReply): FakeCall
}

export type FakeTransportOptions = {
  /** What every call gets unless `next` says otherwise. Default `ack()`. */
  reply?: FakeReply
  /** Most envelopes per call, as `httpTransport({ batch })` would take. Default 1. */
  maxBatch?: number
}

const resultOf = (envelope: EmitEnvelope, answer: FakeAnswer): DeliveryResult =>
  answer.kind === 'ack'
    ? { emitId: envelope.emitId, ok: true, ack: { ...answer.fields, ok: true, emitId: envelope.emitId } }
    : answer.kind === 'error'
      ? {
          emitId: envelope.emitId,
          ok: false,
          error: { ...answer.error },
          ...(answer.retryAfterMs === undefined ? {} : { retryAfterMs: answer.retryAfterMs }),
        }
      : { emitId: envelope.emitId, ok: false, error: { kind: 'network', message: 'hang', retryable: true } }

/**
 * A transport that records each call and answers as the test tells it: ack, a rejection, an HTTP
 * error (with `Retry-After`), a network error, or hang until released.
 *
 * ```ts
 * const transport = fakeTransport()            // acks everything
 * transport.next(httpError(503, { retryAfterMs: 5_000 }), networkError())
 * ```
 */
export function fakeTransport(options: FakeTransportOptions = {}): FakeTransport {
  const fallback = options.reply ?? ack()
  const maxBatch = Math.max(1, options.maxBatch ?? 1)
  const queued: FakeReply[] = []
  const calls: FakeCall[] = []
  const answersFor = (reply: FakeReply, envelopes: readonly EmitEnvelope[], call: number) =>
    envelopes.map((e) => (typeof reply === 'function' ? reply(e, call) : reply))

  const transport: FakeTransport = {
    maxBatch,
    calls,
    sent: () => calls.flatMap((c) => c.envelopes),
    next(...replies) {
      queued.push(...replies)
      return transport
    },
    hanging: () => calls.filter((c) => c.state === 'hanging'),
    release(reply) {
      const call = calls.find((c) => c.state === 'hanging')
      if (!call) throw new Error('fakeTransport.release(): no call is hanging.')
      call.release(reply)
      return call
    },
    send(batch, signal) {
      const envelopes = [...batch]
      const number = calls.length + 1
      const answers = answersFor(queued.shift() ?? fallback, envelopes, number)
      return new Promise<DeliveryResult[]>((resolve, reject) => {
        let state: FakeCall['state'] = 'answered'
        const onAbort = () => {
          state = 'aborted'
          reject(signal.reason)
        }
        const call: FakeCall = {
          envelopes,
          signal,
          get state() {
            return state
          },
          release(reply = ack()) {
            if (state !== 'hanging') throw new Error(`fakeTransport: this call is ${state}, not hanging.`)
            const now = answersFor(reply, envelopes, number)
            if (now.some((a) => a.kind === 'hang'))
              throw new TypeError('fakeTransport: release a call with an answer, not hang().')
            state = 'answered'
            signal.removeEventListener('abort', onAbort)
            resolve(envelopes.map((e, i) => resultOf(e, now[i] as FakeAnswer)))
          },
        }
        calls.push(call)
        if (!answers.some((a) => a.kind === 'hang')) {
          resolve(envelopes.map((e, i) => resultOf(e, answers[i] as FakeAnswer)))
          return
        }
        state = 'hanging'
        if (signal.aborted) onAbort()
        else signal.addEventListener('abort', onAbort, { once: true })
      })
    },
  }
  return transport
}

/** A clock the test moves by hand; pass it as `createOutbox({ clock })`. */
export interface TestClock extends Clock {
  /**
   * Moves time forward by `ms`, firing each due timer at its own time, oldest first, and letting
   * promise callbacks run between them (so a send that a timer starts settles before the next).
   */
  advance(ms: number): Promise<void>
  /** Timers set and neither fired nor cleared. */
  timerCount(): number
}

// Taken at import, so a test that fakes the global timers later does not stop `advance`.
const realTurn: (fn: () => void) => void =
  typeof setImmediate === 'function' ? (fn) => setImmediate(fn) : (fn) => setTimeout(fn, 0)
const turn = () => new Promise<void>((resolve) => realTurn(resolve))

/**
 * A manual clock: `now()` stands still until `advance(ms)`, which runs due timers in order.
 * Retries, backoff, `Retry-After`, breaker cooldowns and typing windows then play out in a test
 * without sleeping. (The default clock reads `Date.now` and the global timers at each call, so
 * `vi.useFakeTimers()` with `vi.advanceTimersByTimeAsync` drives an outbox without this one too.)
 */
export function testClock(start = 1_700_000_000_000): TestClock {
  let now = start
  let nextId = 0
  const timers = new Map<number, { at: number; fn: () => void }>()
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++nextId
      timers.set(id, { at: now + Math.max(0, ms), fn })
      return id
    },
    clearTimeout: (id) => void timers.delete(id as number),
    async advance(ms) {
      const target = now + ms
      await turn()
      for (;;) {
        let due: [number, { at: number; fn: () => void }] | undefined
        for (const t of timers) if (t[1].at <= target && (!due || t[1].at < due[1].at)) due = t
        if (!due) break
        timers.delete(due[0])
        now = Math.max(now, due[1].at)
        due[1].fn()
        await turn()
      }
      now = target
      await turn()
    },
    timerCount: () => timers.size,
  }
}
