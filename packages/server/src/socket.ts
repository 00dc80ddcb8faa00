import { applyOnce } from './apply-once.ts'
import { defaultFingerprint } from './fingerprint.ts'
import { isRecord } from './guards.ts'
import { memoryStore } from './memory-store.ts'
import { answer as answerOf, applyBatch, scopedKey } from './outcome.ts'
import type { AckResult, ApplyResult, Envelope, OutboxHandlerOptions, Rejection } from './types.ts'
import { validateEnvelope } from './validate.ts'

/**
 * The parts of a Socket.IO v4 server socket (the `socket` of `io.on('connection', socket => ...)`)
 * the handler uses. Typed by shape, so `@outbox/server` does not depend on socket.io.
 */
export interface OutboxServerSocket {
  on(event: string, listener: (...args: unknown[]) => void): unknown
}

/** Passed to `apply` with each envelope that came over a socket. */
export type SocketApplyContext<S = OutboxServerSocket> = {
  /** The socket that carried the envelope (read `socket.data` or `socket.handshake.auth` here). */
  socket: S
  /** True when the envelope came in a `{ envelopes: [...] }` batch. */
  batch: boolean
  /** Aborted when the socket disconnects. */
  signal: AbortSignal
}

/**
 * `store`, `fingerprint`, `onError` and `maxBatch` as `createOutboxHandler` takes them: pass the
 * same store and fingerprint to both, and a `scope` that names the same user, and an event sent
 * over HTTP and resent over the socket is still applied once.
 */
export type OutboxSocketHandlerOptions<S = OutboxServerSocket> = Pick<
  OutboxHandlerOptions,
  'store' | 'fingerprint' | 'onError' | 'maxBatch'
> & {
  /** Applies one event; called at most once per `emitId` (per scope), as over HTTP. */
  apply: (envelope: Envelope, context: SocketApplyContext<S>) => ApplyResult | Promise<ApplyResult>
  /** Namespaces idempotency keys, e.g. by user: `(socket) => socket.data.userId`. Default: none. */
  scope?: (socket: S) => string | Promise<string>
  /** The event `socketTransport` emits. Default `'outbox'`. */
  event?: string
}

/** A whole batch refused before anything was applied. */
type BatchRefusal = Rejection & { ok: false }
export type SocketAnswer = AckResult | { results: AckResult[] } | BatchRefusal

/** Listens for outbox events on one socket: `io.on('connection', handler)`. */
export interface OutboxSocketHandler<S = OutboxServerSocket> {
  (socket: S): void
  /**
   * The answer to one message (`envelope` or `{ envelopes }`) from `socket`, without listening:
   * for wiring of your own. Never throws.
   */
  answer(message: unknown, socket: S, signal?: AbortSignal): Promise<SocketAnswer>
}

const badRequest = (message: string): BatchRefusal => ({ ok: false, code: 'bad-request', retryable: false, message })

/**
 * The server half of `socketTransport`: the same apply-once as `createOutboxHandler`, over
 * Socket.IO. Each message on `event` (an envelope, or `{ envelopes }` in batch mode) is validated,
 * applied once per `emitId` through `apply`, and answered through the ack callback.
 *
 * ```ts
 * io.on('connection', createOutboxSocketHandler({ apply, store, scope: (socket) => socket.data.userId }))
 * ```
 */
export function createOutboxSocketHandler<S extends OutboxServerSocket = OutboxServerSocket>(
  options: OutboxSocketHandlerOptions<S>,
): OutboxSocketHandler<S> {
  const event = options.event ?? 'outbox'
  const store = options.store ?? memoryStore()
  const maxBatch = options.maxBatch ?? 100
  const fingerprint = options.fingerprint ?? defaultFingerprint
  const onError = options.onError ?? ((error: unknown) => console.error('[@outbox/server]', error))
  const idle = new AbortController().signal

  const answer = async (message: unknown, socket: S, signal: AbortSignal = idle): Promise<SocketAnswer> => {
    try {
      const isBatch = isRecord(message) && 'envelopes' in message
      let envelopes: Envelope[]
      if (isBatch) {
        const list = message.envelopes
        if (!Array.isArray(list)) return badRequest('envelopes must be an array of envelopes.')
        if (list.length > maxBatch)
          return badRequest(`The batch has ${list.length} envelopes; the limit is ${maxBatch}.`)
        envelopes = []
        for (const [i, item] of list.entries()) {
          const checked = validateEnvelope(item, `envelopes[${i}]`)
          if (!checked.ok) return badRequest(checked.message)
          envelopes.push(checked.envelope)
        }
      } else {
        const checked = validateEnvelope(message, 'message')
        if (!checked.ok) return badRequest(checked.message)
        envelopes = [checked.envelope]
      }
      const scope = options.scope ? await options.scope(socket) : undefined
      const context: SocketApplyContext<S> = { socket, batch: isBatch, signal }
      const settle = (envelope: Envelope) =>
        applyOnce(envelope, {
          store,
          key: scopedKey(scope, envelope.emitId),
          fingerprint,
          run: () => options.apply(envelope, context),
          onError,
        })
      if (!isBatch) {
        const envelope = envelopes[0] as Envelope
        return answerOf(envelope.emitId, await settle(envelope)).result
      }
      const { results } = await applyBatch(envelopes, settle)
      return { results }
    } catch (error) {
      onError(error)
      return { ok: false, code: 'internal', retryable: true, message: 'The server failed; retry.' }
    }
  }

  const handler = (socket: S) => {
    const connection = new AbortController()
    socket.on('disconnect', () => connection.abort())
    socket.on(event, (...args: unknown[]) => {
      const ack = args.length > 1 ? args[args.length - 1] : undefined
      void answer(args[0], socket, connection.signal).then((result) => {
        // A client that emitted without an ack still gets the event applied; it just hears nothing.
        if (typeof ack === 'function') ack(result)
      })
    })
  }
  return Object.assign(handler, { answer })
}
