import { describe, expect, it } from 'vitest'
import { fingerprintEnvelope, stableJson } from '../src/fingerprint.ts'
import { parseIdempotencyKey } from '../src/idempotency-key.ts'
import { validateEnvelope } from '../src/validate.ts'
import { envelope, ulidOf } from './helpers.ts'

describe('validateEnvelope', () => {
  it('accepts an envelope as the client sends it and returns a clean copy', () => {
    const input = { ...envelope(1, { keys: { messageId: 'm1' } }), extra: 'dropped' }
    const result = validateEnvelope(input)
    expect(result).toEqual({ ok: true, envelope: envelope(1, { keys: { messageId: 'm1' } }) })
  })

  it.each([
    ['emitId missing', { emitId: undefined }, 'body.emitId must be a ULID string'],
    ['emitId lower case', { emitId: ulidOf(1).toLowerCase() }, 'body.emitId must be a ULID'],
    ['emitId too short', { emitId: ulidOf(1).slice(1) }, 'body.emitId must be a ULID'],
    ['emitId with I, L, O or U', { emitId: `${ulidOf(1).slice(0, 25)}U` }, 'body.emitId must be a ULID'],
    ['emitId over the 48-bit time', { emitId: `8${ulidOf(1).slice(1)}` }, 'body.emitId must be a ULID'],
    ['emitId a number', { emitId: 42 }, 'body.emitId must be a ULID string'],
    ['event empty', { event: '' }, 'body.event must be a non-empty string'],
    ['event not a string', { event: 3 }, 'body.event must be a non-empty string'],
    ['payload an array', { payload: [] }, 'body.payload must be an object'],
    ['payload null', { payload: null }, 'body.payload must be an object'],
    ['payload a string', { payload: 'x' }, 'body.payload must be an object'],
    ['lane missing', { lane: undefined }, 'body.lane must be a string'],
    ['createdAt a string', { createdAt: '1700000000000' }, 'body.createdAt must be a number'],
    ['createdAt not finite', { createdAt: Number.NaN }, 'body.createdAt must be a number'],
    ['keys an array', { keys: [] as never }, 'body.keys must be an object'],
    ['keys with a number', { keys: { messageId: 5 } as never }, 'body.keys.messageId must be a string'],
    ['keys with null', { keys: { requestId: null } as never }, 'body.keys.requestId must be a string'],
  ])('refuses an envelope with %s', (_name, overrides, message) => {
    const result = validateEnvelope({ ...envelope(1), ...overrides })
    expect(result.ok).toBe(false)
    expect(result.ok === false && result.message).toContain(message)
  })

  it('refuses a body that is not an object', () => {
    expect(validateEnvelope([envelope(1)])).toEqual({
      ok: false,
      message: 'body must be an envelope object, not an array.',
    })
    expect(validateEnvelope('x', 'envelopes[2]')).toEqual({
      ok: false,
      message: 'envelopes[2] must be an envelope object, not a string.',
    })
  })

  it('keeps a __proto__ key as plain data', () => {
    const parsed = JSON.parse(
      `{"emitId":"${ulidOf(1)}","event":"e","payload":{},"lane":"l","createdAt":1,"keys":{"__proto__":"x"}}`,
    )
    const result = validateEnvelope(parsed)
    expect(result.ok && Object.getPrototypeOf(result.envelope.keys)).toBe(Object.prototype)
    expect(result.ok && Object.keys(result.envelope.keys ?? {})).toEqual(['__proto__'])
  })
})

describe('parseIdempotencyKey', () => {
  it('reads a structured-field string', () => {
    expect(parseIdempotencyKey(`"${ulidOf(1)}"`)).toBe(ulidOf(1))
    expect(parseIdempotencyKey(` "a\\"b\\\\c" `)).toBe('a"b\\c')
    expect(parseIdempotencyKey('"k";version=1')).toBe('k')
  })

  it.each([
    ['a bare token', ulidOf(1)],
    ['an unterminated string', '"abc'],
    ['two keys', '"a", "b"'],
    ['a bad escape', '"a\\nb"'],
    ['non-ASCII', '"é"'],
    ['trailing junk', '"a" b'],
  ])('refuses %s', (_name, header) => {
    expect(parseIdempotencyKey(header)).toBeUndefined()
  })
})

describe('fingerprintEnvelope', () => {
  it('ignores key order and emitId, and treats empty keys as none', async () => {
    const a = await fingerprintEnvelope(envelope(1, { payload: { a: 1, b: { c: 2, d: 3 } } }))
    const b = await fingerprintEnvelope(
      envelope(1, { emitId: ulidOf(9), payload: { b: { d: 3, c: 2 }, a: 1 }, keys: {} }),
    )
    expect(a).toMatch(/^[0-9a-f]{64}$/)
    expect(b).toBe(a)
  })

  it('changes with the payload, event, keys, lane or createdAt', async () => {
    const base = await fingerprintEnvelope(envelope(1))
    for (const changed of [
      envelope(1, { payload: { chatId: 'c1', text: 'other' } }),
      envelope(1, { event: 'chat:read' }),
      envelope(1, { keys: { messageId: 'm1' } }),
      envelope(1, { lane: 'c2' }),
      envelope(1, { createdAt: 5 }),
    ])
      expect(await fingerprintEnvelope(changed)).not.toBe(base)
  })

  it('writes stable JSON', () => {
    expect(stableJson({ b: [1, { z: 1, a: null }], a: 'x', u: undefined })).toBe('{"a":"x","b":[1,{"a":null,"z":1}]}')
  })
})
