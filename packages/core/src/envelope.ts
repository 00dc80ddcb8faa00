import { InvalidEmitError } from './errors.ts'
import type { EmitEnvelope, EmitKeys } from './types.ts'

/** Largest serialized envelope `emit` accepts, in UTF-8 bytes. */
export const MAX_ENVELOPE_BYTES = 256 * 1024
/** Deepest nesting `emit` accepts: deeper data would overflow the stack of JSON code on either side. */
export const MAX_DEPTH = 512

const isPlainObject = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

const INVALID = Symbol('invalid')

/**
 * Copies `value` if it survives a JSON round trip unchanged: plain objects, arrays without holes
 * or `undefined`, finite numbers, strings, booleans, null; no cycles. (`undefined` object
 * properties are allowed: JSON omits them, as callers expect.) Adds to `size.n` an upper bound of
 * the copy's JSON length (a string character takes at most 6 escaped, a number at most 24). For
 * anything else it returns `INVALID`, or with a `path` (a second walk after a failure: the first
 * builds no paths) throws `InvalidEmitError` naming the offending value.
 */
function walk(value: unknown, size: { n: number }, seen: Set<object>, path?: string): unknown {
  const invalid = (message: () => string, at = path) => {
    if (at === undefined) return INVALID
    throw new InvalidEmitError(message(), { path: at })
  }
  if (seen.size > MAX_DEPTH) return invalid(() => `The payload nests deeper than ${MAX_DEPTH} levels. Flatten it.`)
  switch (typeof value) {
    case 'string':
      size.n += value.length * 6 + 2
      return value
    case 'boolean':
      size.n += 5
      return value
    case 'number':
      size.n += 24
      // -0 as JSON carries it: 0.
      if (Number.isFinite(value)) return value + 0
      return invalid(() => `${path} is ${value}, which JSON cannot carry. Send a finite number or a string.`)
    case 'object': {
      if (value === null) {
        size.n += 4
        return value
      }
      if (seen.has(value)) return invalid(() => `${path} refers back to itself (a cycle). Send a tree of plain data.`)
      let out: unknown[] | Record<string, unknown>
      if (Array.isArray(value)) {
        seen.add(value)
        out = new Array(value.length)
        size.n += 2 + value.length
        for (let i = 0; i < value.length; i++) {
          const at = path && `${path}[${i}]`
          if (!(i in value) || value[i] === undefined)
            return invalid(() => `${at} is undefined, which JSON turns into null. Use null explicitly.`, at)
          const child = walk(value[i], size, seen, at)
          if (child === INVALID) return INVALID
          out[i] = child
        }
      } else {
        if (!isPlainObject(value))
          return invalid(
            () =>
              `${path} is a ${(value as object).constructor?.name ?? 'object'} instance. Send plain objects (convert dates to ISO strings, maps to objects).`,
          )
        seen.add(value)
        out = {}
        size.n += 2
        for (const key in value) {
          const item = (value as Record<string, unknown>)[key]
          if (item === undefined) continue
          const child = walk(item, size, seen, path && `${path}.${key}`)
          if (child === INVALID) return INVALID
          size.n += key.length * 6 + 4
          // As JSON.parse does: "__proto__" is an own property, never the prototype.
          if (key === '__proto__')
            Object.defineProperty(out, key, { value: child, enumerable: true, writable: true, configurable: true })
          else out[key] = child
        }
      }
      seen.delete(value)
      return out
    }
    case 'undefined':
      return invalid(() => `${path} is undefined. Send null or leave the property out.`)
    default:
      return invalid(() => `${path} is a ${typeof value}, which JSON cannot carry. Send plain data.`)
  }
}

const byteLength = (text: string): number =>
  // Every UTF-16 code unit takes at most 3 UTF-8 bytes: skip the exact count when it cannot matter.
  text.length * 3 <= MAX_ENVELOPE_BYTES ? text.length : new TextEncoder().encode(text).length

/**
 * Throws `InvalidEmitError` when the envelope is over `MAX_ENVELOPE_BYTES` serialized.
 * `payloadBound`, an upper bound of the payload's JSON length (from `takePayload`), skips the
 * serialization when even 3 bytes a character fit.
 */
export function assertSize(envelope: EmitEnvelope, payloadBound: number): void {
  const { event, lane, keys } = envelope
  // Besides the payload and these strings, the envelope's JSON (names, emitId, createdAt) fits in 200.
  const strings = event.length + lane.length + (keys?.messageId?.length ?? 0) + (keys?.requestId?.length ?? 0)
  if ((payloadBound + strings * 6 + 200) * 3 <= MAX_ENVELOPE_BYTES) return
  const text = JSON.stringify(envelope)
  const bytes = byteLength(text)
  if (bytes > MAX_ENVELOPE_BYTES)
    throw new InvalidEmitError(
      `The event is ${bytes} bytes serialized; the limit is ${MAX_ENVELOPE_BYTES}. Upload large data separately and send a reference.`,
    )
}

const optionalString = (value: unknown, path: string): string | undefined => {
  if (value === undefined || typeof value === 'string') return value
  throw new InvalidEmitError(`${path} must be a string.`, { path })
}

/** Validates the caller's keys, falling back to `payload.messageId` / `payload.requestId`. */
export function resolveKeys(payload: Record<string, unknown>, keys: EmitKeys | undefined): EmitKeys | undefined {
  const messageId = optionalString(keys?.messageId, 'keys.messageId') ?? stringOrUndefined(payload.messageId)
  const requestId = optionalString(keys?.requestId, 'keys.requestId') ?? stringOrUndefined(payload.requestId)
  if (messageId === undefined && requestId === undefined) return undefined
  const out: EmitKeys = {}
  if (messageId !== undefined) out.messageId = messageId
  if (requestId !== undefined) out.requestId = requestId
  return out
}

const stringOrUndefined = (value: unknown): string | undefined =>
  typeof value === 'string' || typeof value === 'number' ? String(value) : undefined

/**
 * Validates what `emit` was called with, before anything is stamped or queued, and returns a copy
 * of the payload (so the caller mutating its object later cannot change what is sent) with an
 * upper bound of its JSON length.
 */
export function takePayload(event: unknown, payload: unknown): { payload: Record<string, unknown>; bound: number } {
  if (typeof event !== 'string' || event.length === 0)
    throw new InvalidEmitError('The event name must be a non-empty string, e.g. "user:message".', { path: 'event' })
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    throw new InvalidEmitError('The payload must be a plain object, e.g. { chatId, text }.', { path: 'payload' })
  const size = { n: 0 }
  const copy = walk(payload, size, new Set())
  if (copy === INVALID) walk(payload, size, new Set(), 'payload') // throws, naming the value
  return { payload: copy as Record<string, unknown>, bound: size.n }
}

/**
 * The envelope alone, as it goes on the wire and into events: a pending item or any object with
 * more fields is cut down to `{ emitId, event, payload, keys?, lane, createdAt }`.
 */
export const envelopeOf = (item: EmitEnvelope): EmitEnvelope => {
  const { emitId, event, payload, keys, lane, createdAt } = item
  return keys ? { emitId, event, payload, keys, lane, createdAt } : { emitId, event, payload, lane, createdAt }
}
