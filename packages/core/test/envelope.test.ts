import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { takePayload } from '../src/envelope.ts'
import { InvalidEmitError } from '../src/errors.ts'

describe('takePayload', () => {
  it('returns a JSON-equal copy and an upper bound of its JSON length, escapes included', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 8 }),
        fc.string({ unit: 'binary', maxLength: 40 }),
        (payload, nasty) => {
          const input = { ...payload, nasty: `"\\\n\u0001${nasty}` }
          const { payload: copy, bound } = takePayload('m', input)
          const json = JSON.stringify(input)
          expect(JSON.stringify(copy)).toBe(json)
          expect(bound).toBeGreaterThanOrEqual(json.length)
          expect(copy).not.toBe(input)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('copies deeply: changing the caller’s object afterwards changes nothing taken', () => {
    const input = { chatId: 'c', list: [{ n: 1 }], meta: { tags: ['a'] } }
    const { payload } = takePayload('m', input)
    input.list[0] = { n: 2 }
    input.meta.tags.push('b')
    expect(payload).toEqual({ chatId: 'c', list: [{ n: 1 }], meta: { tags: ['a'] } })
  })

  it('throws the same path-naming errors as the full check', () => {
    expect(() => takePayload('m', { a: [1, { b: Number.NaN }] })).toThrow(InvalidEmitError)
    expect(() => takePayload('m', { a: [1, { b: Number.NaN }] })).toThrow(/payload\.a\[1\]\.b is NaN/)
    expect(() => takePayload('', {})).toThrow(/event name/)
    expect(() => takePayload('m', [])).toThrow(/plain object/)
  })
})
