import ky, { type BeforeRequestHook, type KyInstance, TimeoutError } from 'ky'
import { type AckReader, failAll, MAPPING_HINT, restAck } from './ack.ts'
import { envelopeOf } from './envelope.ts'
import { readResults } from './http-answer.ts'
import { type Call, type HttpRequest, JSON_TYPE, mergeHeaders, requestBuilder } from './http-request.ts'
import { readJson } from './read-json.ts'
import type { DeferredRequest, DeliveryResult, EmitEnvelope, Transport } from './types.ts'

export type { HttpRequest } from './http-request.ts'

export type HttpTransportOptions = {
  url: string
  /** Default false; `maxItems` defaults to 50. Not with `request`. */
  batch?: boolean | { maxItems?: number }
  /** Computed per send and never persisted (auth tokens belong here). */
  headers?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>)
  /** Default 10_000. */
  timeoutMs?: number
  /**
   * Advanced: a configured ky; its own retry is turned off (the outbox retries). Its hooks, its
   * `fetch` and undici's `dispatcher` are used; other fetch-only options belong in that `fetch`.
   */
  ky?: KyInstance
  /**
   * Maps each envelope to one request of an API the app already has, e.g. `user:message` →
   * `POST /api/chats/{chatId}/messages` with the payload as body. `Idempotency-Key` is sent as always.
   */
  request?: (envelope: EmitEnvelope) => HttpRequest
  /**
   * Reads a 2xx answer (only those): the ack's fields, or undefined when it is not an ack. `body` is
   * the parsed JSON, or undefined when the answer is empty or not JSON. Default with `request`: JSON
   * is an ack (an object its fields, any other value `{ body }`), and so is an empty 2xx.
   */
  ack?: AckReader
}

/** Items in a deferred batch when the transport does not batch (the batch default's `maxItems`). */
const DEFERRED_BATCH = 50

/** Budget of all `keepalive` request bodies in flight, per the Fetch standard. */
const KEEPALIVE_BYTES = 64 * 1024

/**
 * Sends ky's request as it is, with ky's `fetch`. ky clones each request before it sends it, so
 * that a retry still has a body; the outbox does its own retries (ky's are off), and that clone
 * (a tee of the body) cost a fifth of the browser's CPU per item in the delivery loop (278 µs
 * against 222 without it; a bare `fetch` loop, 190). A `beforeRequest` hook that answers with a
 * `Response` ends ky's hooks and skips the clone; it runs after a configured ky's own hooks, and
 * one of those that returns a new `Request` skips it (ky then sends as usual).
 */
const sendAsIs: BeforeRequestHook = async (request, options) => {
  const { fetch: send = fetch, dispatcher } = options as { fetch?: typeof fetch; dispatcher?: unknown }
  const response: Response = await send(request, dispatcher ? ({ dispatcher } as RequestInit) : undefined)
  // ky takes only an `instanceof Response` as the hook's answer; with anything else it goes on to
  // clone the request, whose body is now spent, and throws: the ack is lost. A fetch's answer can
  // be of another class than the global one (in Node, @hono/node-server replaces `Response`; a
  // polyfilled fetch), so it is rewrapped.
  if (response instanceof Response) return response
  const { body, status, statusText, headers } = response
  return new Response(body, { status, statusText, headers })
}

/** A `request` that throws or answers nonsense fails its item at once: trying again maps it the same way. */
const unmapped = (envelopes: readonly EmitEnvelope[], error: unknown): DeliveryResult[] =>
  failAll(envelopes, {
    kind: 'rejected',
    code: 'request',
    message: `httpTransport's request failed: ${String(error)}`,
    retryable: false,
    hint: MAPPING_HINT,
  })

/**
 * Runs one exchange under one deadline for all of it, the answer's body included (ky's covers the
 * headers). The deadline settles the call by itself: an abort can get lost inside fetch
 * implementations while a body is being read, and a lane must never hang on one request. The
 * caller's `signal` aborts the exchange too (and then its error is thrown, not a timeout).
 */
async function withDeadline(
  envelopes: readonly EmitEnvelope[],
  signal: AbortSignal,
  timeoutMs: number,
  exchange: (deadline: AbortSignal) => Promise<DeliveryResult[]>,
): Promise<DeliveryResult[]> {
  const deadline = new AbortController()
  const abort = () => deadline.abort(signal.reason)
  if (signal.aborted) abort()
  signal.addEventListener('abort', abort)
  const timedOut = () =>
    failAll(envelopes, { kind: 'network', message: `No answer within ${timeoutMs} ms.`, retryable: true })
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadlinePassed = new Promise<DeliveryResult[]>((resolve) => {
    timer = setTimeout(() => {
      deadline.abort()
      resolve(timedOut())
    }, timeoutMs)
  })
  const running = exchange(deadline.signal)
  try {
    return await Promise.race([running, deadlinePassed])
  } catch (error) {
    if (error instanceof TimeoutError || (deadline.signal.aborted && !signal.aborted)) return timedOut()
    throw error
  } finally {
    clearTimeout(timer)
    signal.removeEventListener('abort', abort)
    running.catch(() => {}) // settled or abandoned: never an unhandled rejection
  }
}

/**
 * Sends envelopes with ky: `POST url` with the envelope and an `Idempotency-Key` header, or in
 * batch mode `{ envelopes: [...] }` answered by `{ results: [...] }`; with `request`, one request
 * of the app's own API per envelope, read by `ack`. Only an ack counts as delivered: a 2xx that is
 * not JSON (a captive portal's page) is retried, JSON that is no ack fails at once.
 */
export function httpTransport(options: HttpTransportOptions): Transport {
  const { request, url } = options
  const batchMode = options.batch !== undefined && options.batch !== false
  for (const name of ['request', 'ack'] as const)
    if (options[name] !== undefined && typeof options[name] !== 'function')
      throw new TypeError(`httpTransport: ${name} must be a function.`)
  if (request && batchMode) throw new TypeError('httpTransport: request sends one event per request, not with batch.')
  const readAnswer = options.ack ?? (request && restAck)
  const maxBatch = batchMode ? Math.max(1, (typeof options.batch === 'object' && options.batch.maxItems) || 50) : 1
  const timeoutMs = options.timeoutMs ?? 10_000
  const { callFor, resolve } = requestBuilder(url, request, batchMode)
  const client = (options.ky ?? ky).extend({
    retry: 0,
    throwHttpErrors: false,
    timeout: false,
    hooks: { beforeRequest: [sendAsIs] },
  })
  /** The headers of the last send, kept in memory (never stored) for page-hide beacons that cannot await. */
  let lastHeaders: Record<string, string> | undefined =
    typeof options.headers === 'object' ? { ...options.headers } : undefined
  /** Headers for a beacon: the last send's, or the headers function's answer if it gives one at once. */
  const beaconHeaders = (): Record<string, string> => {
    if (lastHeaders || typeof options.headers !== 'function') return lastHeaders ?? {}
    try {
      const now = options.headers()
      if (!(now instanceof Promise)) return { ...now }
    } catch {}
    return {}
  }
  const sendHeaders = async (): Promise<Record<string, string>> => {
    const base = typeof options.headers === 'function' ? await options.headers() : (options.headers ?? {})
    lastHeaders = { ...base }
    return lastHeaders
  }

  return {
    maxBatch,
    async send(envelopes, signal) {
      if (envelopes.length === 0) return []
      return withDeadline(envelopes, signal, timeoutMs, async (deadline) => {
        const base = await sendHeaders()
        let call: Call
        try {
          call = callFor(envelopes, base)
        } catch (error) {
          return unmapped(envelopes, error)
        }
        const { method, headers, body } = call
        const response = await client(call.url, { method, headers, body, signal: deadline })
        return readResults(envelopes, response, await readJson(response), readAnswer, batchMode)
      })
    },
    deferredRequests(envelopes) {
      const base = beaconHeaders()
      if (!request) {
        // One batch, so the server applies each lane in order; in the batch wire format whatever
        // the mode (the handler of `url` speaks both).
        const list = envelopes.slice(0, batchMode ? maxBatch : DEFERRED_BATCH).map(envelopeOf)
        if (list.length === 0) return []
        const body = JSON.stringify({ envelopes: list })
        return [{ url: resolve(url), method: 'POST', headers: mergeHeaders(base, JSON_TYPE), body }]
      }
      // One request per envelope, and they go out together: only each lane's head, oldest first.
      const lanes = new Set<string>()
      const out: DeferredRequest[] = []
      for (const envelope of envelopes) {
        if (lanes.has(envelope.lane)) continue
        lanes.add(envelope.lane)
        try {
          const { url: to, method, headers, body } = callFor([envelope], base)
          out.push(body === undefined ? { url: to, method, headers } : { url: to, method, headers, body })
        } catch {
          // Its lane waits for the next session, where the mapping failure is reported.
        }
      }
      return out
    },
    sendBeacon(groups) {
      if (typeof fetch !== 'function') return
      let budget = KEEPALIVE_BYTES
      const base = beaconHeaders()
      for (const group of groups) {
        if (group.length === 0) continue
        let call: Call
        try {
          call = callFor(group, base)
        } catch {
          continue // its lane waits for the next session, where the failure is reported
        }
        const text = call.body ?? ''
        budget -= text.length * 3 > budget ? new TextEncoder().encode(text).length : text.length
        if (budget < 0) return
        const { method, headers, body } = call
        // Fire and forget: the items stay stored until a later session sees their ack.
        fetch(call.url, { method, keepalive: true, headers, body }).catch(() => {})
      }
    },
  }
}
