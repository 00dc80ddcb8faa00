import { failAll, readAck, readBatchAcks } from './ack.ts'
import { envelopeOf } from './envelope.ts'
import { isRecord } from './guards.ts'
import type { DeliveryError, DeliveryResult, EmitEnvelope, Transport } from './types.ts'

/**
 * The parts of a Socket.IO v4 client socket (`io(url)` from socket.io-client) that the outbox
 * uses. Typed by shape, so `@outbox/core` does not depend on socket.io-client.
 */
export interface OutboxSocket {
  readonly connected: boolean
  on(event: 'connect' | 'disconnect', listener: () => void): unknown
  off(event: 'connect' | 'disconnect', listener: () => void): unknown
  timeout(ms: number): { emitWithAck(event: string, arg: unknown): Promise<unknown> }
}

export type SocketTransportOptions = {
  /** The event the server half listens to. Default `'outbox'`. */
  event?: string
  /** How long to wait for the server's ack. Default 10_000. */
  timeoutMs?: number
  /** Default false; `maxItems` defaults to 50. */
  batch?: boolean | { maxItems?: number }
}

/** Names Socket.IO keeps for itself: `emit` throws on them. */
const RESERVED = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener'])

/**
 * Sends envelopes over a Socket.IO connection: `emitWithAck(event, envelope)` answered by an ack
 * (`{ ok: true, emitId, ... }` or `{ ok: false, code, ... }`), or in batch mode `{ envelopes }`
 * answered by `{ results }`. A timeout or a disconnect is a retryable network error. Pair it with
 * `network: socketNetwork(socket)` so nothing is sent while the socket is down.
 */
export function socketTransport(socket: OutboxSocket, options: SocketTransportOptions = {}): Transport {
  const event = options.event ?? 'outbox'
  const timeoutMs = options.timeoutMs ?? 10_000
  if (typeof event !== 'string' || event === '' || RESERVED.has(event))
    throw new TypeError(`socketTransport: event must be a non-empty name Socket.IO does not reserve; got '${event}'.`)
  if (!(timeoutMs > 0 && timeoutMs < 2 ** 31))
    throw new TypeError(`socketTransport: timeoutMs must be a positive number of milliseconds; got ${timeoutMs}.`)
  const batchMode = options.batch !== undefined && options.batch !== false
  const maxBatch = batchMode ? Math.max(1, (typeof options.batch === 'object' && options.batch.maxItems) || 50) : 1

  const notAnAck = (answer: unknown): DeliveryError => ({
    kind: 'invalid-ack',
    message: `The server answered '${event}' with ${answer === undefined ? 'nothing' : 'something'} that is not an outbox ack.`,
    retryable: false,
    hint: `Handle '${event}' with @outbox/server's createOutboxSocketHandler, or answer the ack callback with { ok: true, emitId }${batchMode ? ' (in batch mode: { results: [...] })' : ''}.`,
  })

  /** Classifies an answer as over HTTP: the outbox's shape is read, any other answer is another protocol. */
  const read = (envelopes: readonly EmitEnvelope[], answer: unknown): DeliveryResult[] => {
    if (batchMode && isRecord(answer) && Array.isArray(answer.results)) return readBatchAcks(envelopes, answer)
    if (!isRecord(answer) || typeof answer.ok !== 'boolean') return failAll(envelopes, notAnAck(answer))
    if (!batchMode) return [readAck((envelopes[0] as EmitEnvelope).emitId, answer)]
    // A batch refused as a whole (malformed, too long): one rejection for all its envelopes.
    if (answer.ok === false) return envelopes.map((e) => readAck(e.emitId, { ...answer, emitId: undefined }))
    return failAll(envelopes, notAnAck(answer))
  }

  /** One `emitWithAck` and its answer; a disconnect, a timeout or an abort ends it at once. */
  const exchange = async (envelopes: readonly EmitEnvelope[], signal: AbortSignal): Promise<DeliveryResult[]> => {
    // Socket.IO buffers what is emitted while disconnected and sends it on reconnect, long after
    // this call gave up: fail at once instead, and let the outbox resend in order.
    if (!socket.connected)
      return failAll(envelopes, { kind: 'network', message: 'The socket is disconnected.', retryable: true })
    const body = batchMode ? { envelopes: envelopes.map(envelopeOf) } : envelopeOf(envelopes[0] as EmitEnvelope)
    let stop = () => {}
    const interrupted = new Promise<never>((_, reject) => {
      const disconnected = () => reject(new Error('The socket disconnected before the server answered.'))
      const aborted = () => reject(signal.reason)
      socket.on('disconnect', disconnected)
      signal.addEventListener('abort', aborted)
      stop = () => {
        socket.off('disconnect', disconnected)
        signal.removeEventListener('abort', aborted)
      }
    })
    const answer = socket.timeout(timeoutMs).emitWithAck(event, body)
    try {
      return read(envelopes, await Promise.race([answer, interrupted]))
    } catch (error) {
      if (signal.aborted) throw signal.reason
      const timedOut = error instanceof Error && /timed out/.test(error.message)
      return failAll(envelopes, {
        kind: 'network',
        message: timedOut
          ? `No ack for '${event}' within ${timeoutMs} ms.`
          : error instanceof Error
            ? error.message
            : String(error),
        retryable: true,
        ...(timedOut ? { hint: `Check that the server handles '${event}' and answers its ack callback.` } : {}),
      })
    } finally {
      stop()
      answer.catch(() => {}) // settled or abandoned: never an unhandled rejection
      interrupted.catch(() => {})
    }
  }

  return {
    maxBatch,
    async send(envelopes, signal) {
      if (envelopes.length === 0) return []
      signal.throwIfAborted()
      if (!batchMode) return exchange(envelopes, signal)
      // A message larger than the server's `maxHttpBufferSize` (1 MB by default) closes the
      // connection, and the same batch would close it again on every retry: big batches go as
      // several messages, one after the other, each well under that size.
      const results: DeliveryResult[] = []
      let blocked = false
      for (const part of parts(envelopes)) {
        if (blocked) {
          // The server would hold these behind the unsettled one: keep the lane's order.
          results.push(...failAll(part, { kind: 'rejected', code: 'lane-blocked', message: WAITS, retryable: true }))
          continue
        }
        const answers = await exchange(part, signal)
        blocked = answers.some((r) => !r.ok && r.error.retryable)
        results.push(...answers)
      }
      return results
    },
  }
}

const WAITS = 'An earlier event in this lane was not delivered; this one waits to keep the order.'

/** Characters of JSON per batch message: at most 3 bytes each in UTF-8, so under 1 MB. */
const MAX_MESSAGE_CHARS = 300_000

/** Splits envelopes, in order, into runs whose JSON stays within `MAX_MESSAGE_CHARS` (at least one each). */
function parts(envelopes: readonly EmitEnvelope[]): EmitEnvelope[][] {
  if (envelopes.length === 1) return [[...envelopes]] // one envelope is one message, whatever its size
  const runs: EmitEnvelope[][] = []
  let run: EmitEnvelope[] = []
  let size = 0
  for (const envelope of envelopes) {
    const length = JSON.stringify(envelopeOf(envelope)).length
    if (run.length > 0 && size + length > MAX_MESSAGE_CHARS) {
      runs.push(run)
      run = []
      size = 0
    }
    run.push(envelope)
    size += length
  }
  runs.push(run)
  return runs
}
