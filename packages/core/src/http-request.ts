import { envelopeOf } from './envelope.ts'
import { isRecord, isString, optional } from './guards.ts'
import type { EmitEnvelope } from './types.ts'

/** One request of an API the app already has, for one envelope. */
export type HttpRequest = {
  /** Absolute, or resolved against the transport's `url`. Default: the transport's `url`. */
  url?: string
  /** Default `'POST'`. */
  method?: string
  /** JSON-encoded. Key absent: the envelope (no body for GET and HEAD); present but undefined: no body. */
  body?: unknown
  /** Added to the transport's headers (and win over them, `Idempotency-Key` included). */
  headers?: Record<string, string>
}

/** A request ready to go: what `send` and the page-hide beacon both send. */
export type Call = { url: string; method: string; headers: Record<string, string>; body?: string | undefined }

/** Header names in lower case, so that a later part replaces an earlier one whatever the case. */
export const mergeHeaders = (...parts: Array<Record<string, string> | undefined>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const part of parts) for (const name in part ?? {}) out[name.toLowerCase()] = String(part?.[name])
  return out
}
export const JSON_TYPE = { 'content-type': 'application/json' }

/** Builds the requests of a transport: the outbox wire format, or the app's own API through `request`. */
export interface RequestBuilder {
  /** The request for these envelopes (one, unless batching); throws when `request` answers nonsense. */
  callFor(envelopes: readonly EmitEnvelope[], base: Record<string, string>): Call
  /** Absolute, or against the transport's `url` (itself against the page, in a browser). */
  resolve(to: string | undefined): string
}

export function requestBuilder(
  url: string,
  request: ((envelope: EmitEnvelope) => HttpRequest) | undefined,
  batchMode: boolean,
): RequestBuilder {
  /** Absolute, or against the transport's `url` (itself against the page, in a browser). */
  const resolve = (to: string | undefined): string => {
    if (to === undefined) return url
    try {
      return new URL(to, new URL(url, globalThis.location?.href)).href
    } catch {
      return to
    }
  }

  /** The request for these envelopes (one, unless batching); throws when `request` answers nonsense. */
  const callFor = (envelopes: readonly EmitEnvelope[], base: Record<string, string>): Call => {
    const first = envelopes[0] as EmitEnvelope
    const key = batchMode ? undefined : { 'idempotency-key': `"${first.emitId}"` }
    if (!request) {
      const body = JSON.stringify(batchMode ? { envelopes: envelopes.map(envelopeOf) } : envelopeOf(first))
      return { url, method: 'POST', headers: mergeHeaders(base, JSON_TYPE, key), body }
    }
    const spec: unknown = request(first)
    if (
      !isRecord(spec) ||
      !optional(spec.url, isString) ||
      !optional(spec.method, isString) ||
      !optional(spec.headers, isRecord)
    )
      throw new TypeError('not a { url?, method?, body?, headers? }')
    const method = ((spec.method as string | undefined) ?? 'POST').toUpperCase()
    const bodyless = method === 'GET' || method === 'HEAD'
    const value = 'body' in spec ? spec.body : bodyless ? undefined : envelopeOf(first)
    const body = value === undefined ? undefined : JSON.stringify(value)
    if (body !== undefined && bodyless) throw new TypeError(`a body for ${method}`)
    const headers = mergeHeaders(base, body === undefined ? undefined : JSON_TYPE, key, spec.headers as never)
    return { url: resolve(spec.url as string | undefined), method, headers, body }
  }

  return { callFor, resolve }
}
