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

/**
 * Throws `InvalidEmitError` unless `value` survives a JSON round trip unchanged: plain objects,
 * arrays without holes or `undefined`, finite numbers, strings, booleans, null; no cycles.
 * (`undefined` object properties are allowed: JSON omits them, as callers expect.)
 */
export function assertJson(value: unknown, path: string, seen: Set<object> = new Set()): void {
  if (seen.size > MAX_DEPTH)
    throw new InvalidEmitError(`The payload nests deeper than ${MAX_DEPTH} levels. Flatten it.`, { path })
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return
    case 'number':
      if (Number.isFinite(value)) return
      throw new InvalidEmitError(`${path} is ${value}, which JSON cannot carry. Send a finite number or a string.`, {
        path,
      })
    case 'object': {
      if (value === null) return
      if (seen.has(value))
        throw new InvalidEmitError(`${path} refers back to itself (a cycle). Send a tree of plain data.`, { path })
      if (Array.isArray(value)) {
        seen.add(value)
        for (let i = 0; i < value.length; i++) {
          if (!(i in value) || value[i] === undefined)
            throw new InvalidEmitError(`${path}[${i}] is undefined, which JSON turns into null. Use null explicitly.`, {
              path: `${path}[${i}]`,
            })
          assertJson(value[i], `${path}[${i}]`, seen)
        }
        seen.delete(value)
        return
      }
      if (!isPlainObject(value)) {
        const name = (value as object).constructor?.name ?? 'object'
        throw new InvalidEmitError(
          `${path} is a ${name} instance. Send plain objects (convert dates to ISO strings, maps to objects).`,
          { path },
        )
      }
      seen.add(value)
      for (const key in value) {
        const child = (value as Record<string, unknown>)[key]
        if (child !== undefined) assertJson(child, `${path}.${key}`, seen)
      }
      seen.delete(value)
      return
    }
    case 'undefined':
      throw new InvalidEmitError(`${path} is undefined. Send null or leave the property out.`, { path })
    default:
      throw new InvalidEmitError(`${path} is a ${typeof value}, which JSON cannot carry. Send plain data.`, { path })
  }
}

const byteLength = (text: string): number =>
  // Every UTF-16 code unit takes at most 3 UTF-8 bytes: skip the exact count when it cannot matter.
  text.length * 3 <= MAX_ENVELOPE_BYTES ? text.length : new TextEncoder().encode(text).length

/** Serializes the envelope; throws `InvalidEmitError` when it is over `MAX_ENVELOPE_BYTES`. */
export function assertSize(envelope: EmitEnvelope): string {
  const text = JSON.stringify(envelope)
  const bytes = byteLength(text)
  if (bytes > MAX_ENVELOPE_BYTES)
    throw new InvalidEmitError(
      `The event is ${bytes} bytes serialized; the limit is ${MAX_ENVELOPE_BYTES}. Upload large data separately and send a reference.`,
    )
  return text
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

/** Validates what `emit` was called with, before anything is stamped or queued. */
export function assertEmitInput(event: unknown, payload: unknown): asserts payload is Record<string, unknown> {
  if (typeof event !== 'string' || event.length === 0)
    throw new InvalidEmitError('The event name must be a non-empty string, e.g. "user:message".', { path: 'event' })
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    throw new InvalidEmitError('The payload must be a plain object, e.g. { chatId, text }.', { path: 'payload' })
  assertJson(payload, 'payload')
}
