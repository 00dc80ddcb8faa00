import { isRecord } from './guards.ts'
import type { Envelope, EnvelopeKeys } from './types.ts'

/** A canonical ULID: 26 upper-case Crockford base32 characters, at most 7ZZZ… (48-bit time). */
const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/

export type Validation = { ok: true; envelope: Envelope } | { ok: false; message: string }

const describe = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'an array' : value === undefined ? 'missing' : `a ${typeof value}`

/**
 * Checks that `value` is an envelope exactly as the client sends it and returns a clean copy
 * (unknown members dropped, so `apply` sees only the contract). `path` names it in messages.
 */
export function validateEnvelope(value: unknown, path = 'body'): Validation {
  const fail = (message: string): Validation => ({ ok: false, message })
  if (!isRecord(value)) return fail(`${path} must be an envelope object, not ${describe(value)}.`)
  const { emitId, event, payload, keys, lane, createdAt } = value
  if (typeof emitId !== 'string' || !ULID.test(emitId))
    return fail(
      typeof emitId === 'string'
        ? `${path}.emitId must be a ULID (26 upper-case Crockford base32 characters); got ${JSON.stringify(emitId.slice(0, 40))}.`
        : `${path}.emitId must be a ULID string; it is ${describe(emitId)}.`,
    )
  if (typeof event !== 'string' || event.length === 0)
    return fail(`${path}.event must be a non-empty string; it is ${event === '' ? 'empty' : describe(event)}.`)
  if (!isRecord(payload)) return fail(`${path}.payload must be an object; it is ${describe(payload)}.`)
  if (typeof lane !== 'string') return fail(`${path}.lane must be a string; it is ${describe(lane)}.`)
  if (typeof createdAt !== 'number' || !Number.isFinite(createdAt))
    return fail(`${path}.createdAt must be a number (ms since the epoch); it is ${describe(createdAt)}.`)
  const envelope: Envelope = { emitId, event, payload, lane, createdAt }
  if (keys !== undefined) {
    if (!isRecord(keys)) return fail(`${path}.keys must be an object of strings; it is ${describe(keys)}.`)
    const members = Object.entries(keys)
    for (const [name, key] of members)
      if (typeof key !== 'string') return fail(`${path}.keys.${name} must be a string; it is ${describe(key)}.`)
    // fromEntries defines own properties, so even a `__proto__` key stays plain data.
    envelope.keys = Object.fromEntries(members) as EnvelopeKeys
  }
  return { ok: true, envelope }
}
