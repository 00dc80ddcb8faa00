import fc from 'fast-check'
import { decodeTime, monotonicFactory } from 'ulid'
import { describe, expect, it } from 'vitest'
import { InvalidEmitError, OutboxClosedError, OutboxError, OutboxFullError } from '../src/errors.ts'
import { createIdFactory, isUlid } from '../src/ulid.ts'
import { fakeTransport, heldTransport, setup, tick } from './helpers.ts'

class Point {
  x = 1
}

describe('emit', () => {
  it('returns the envelope at once and shows the item as queued', () => {
    const { outbox } = setup()
    const e = outbox.emit('user:message', { chatId: 'c1', messageId: 'm1', text: 'hi' })
    expect(e).toMatchObject({ event: 'user:message', lane: 'c1', keys: { messageId: 'm1' }, payload: { text: 'hi' } })
    expect(outbox.pending.value).toHaveLength(1)
    expect(outbox.pending.value[0]).toMatchObject({ emitId: e.emitId, status: 'queued', attempts: 0 })
    expect(outbox.size.value).toBe(1)
  })

  it('stamps strictly increasing ULIDs within one millisecond', () => {
    const { outbox, clock } = setup()
    const ids = Array.from({ length: 1000 }, (_, i) => outbox.emit('e', { i }).emitId)
    expect(new Set(ids).size).toBe(1000)
    expect([...ids].sort()).toEqual(ids)
    expect(ids.every((id) => /^[0-9A-HJKMNP-TV-Z]{26}$/.test(id))).toBe(true)
    expect(decodeTime(ids[0] as string)).toBe(clock.now())
  })

  it('makes the very ids of the ulid package’s monotonic factory, given the same randomness', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 48 - 1 }),
        fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (start, steps, seed) => {
          const prng = (s: number) => () => {
            s = (s * 1103515245 + 12345) % 2 ** 31
            return s / 2 ** 31
          }
          const ours = createIdFactory(prng(seed))
          const theirs = monotonicFactory(prng(seed))
          let now = start
          for (const step of steps) {
            now = Math.min(2 ** 48 - 1, Math.max(1, now + step))
            const id = ours(now)
            expect(id).toBe(theirs(now))
            expect(isUlid(id)).toBe(true)
          }
        },
      ),
      { numRuns: 200 },
    )
    expect(() => createIdFactory()(2 ** 48)).toThrow(RangeError)
  })

  it('draws default ids from crypto randomness: unique, ordered, and random across outboxes', () => {
    const a = createIdFactory()
    const b = createIdFactory()
    const ids = Array.from({ length: 10_000 }, (_, i) => a(1_700_000_000_000 + Math.floor(i / 100)))
    expect(new Set(ids).size).toBe(10_000)
    expect([...ids].sort()).toEqual(ids)
    expect(ids.every(isUlid)).toBe(true)
    // Two outboxes in the same millisecond do not collide.
    expect(b(1_700_000_000_000)).not.toBe(ids[0])
  })

  it('takes a copy of the payload, so later mutation does not change what is sent', async () => {
    const transport = fakeTransport()
    const { outbox } = setup({}, transport)
    const payload = { text: 'first', tags: ['a'] }
    outbox.emit('e', payload)
    payload.text = 'changed'
    payload.tags.push('b')
    await tick()
    expect(transport.calls[0]?.[0]?.payload).toEqual({ text: 'first', tags: ['a'] })
  })

  it.each([
    ['a function', { f: () => 1 }, 'payload.f'],
    ['a BigInt', { n: 10n }, 'payload.n'],
    ['a class instance', { p: new Point() }, 'payload.p'],
    ['a Date', { d: new Date(0) }, 'payload.d'],
    ['a Map', { m: new Map() }, 'payload.m'],
    ['undefined in an array', { list: [1, undefined, 3] }, 'payload.list[1]'],
    // biome-ignore lint/suspicious/noSparseArray: the hole is what this case tests
    ['a hole in an array', { list: [1, , 3] }, 'payload.list[1]'],
    ['NaN', { n: Number.NaN }, 'payload.n'],
    ['Infinity', { deep: { n: Number.POSITIVE_INFINITY } }, 'payload.deep.n'],
    ['a symbol', { s: Symbol('x') }, 'payload.s'],
  ])('rejects %s with InvalidEmitError naming the path, and queues nothing', (_name, payload, path) => {
    const { outbox } = setup()
    outbox.emit('before', { ok: true })
    const attempt = () => outbox.emit('e', payload as Record<string, unknown>)
    expect(attempt).toThrow(InvalidEmitError)
    try {
      attempt()
    } catch (error) {
      expect((error as InvalidEmitError).path).toBe(path)
      expect((error as InvalidEmitError).name).toBe('InvalidEmitError')
      expect(error).toBeInstanceOf(OutboxError)
    }
    expect(outbox.pending.value.map((i) => i.event)).toEqual(['before'])
  })

  it('rejects cycles', () => {
    const { outbox } = setup()
    const a: Record<string, unknown> = { name: 'a' }
    a.self = { back: a }
    expect(() => outbox.emit('e', a)).toThrow(/cycle/)
    expect(outbox.size.value).toBe(0)
  })

  it('rejects payloads nested deeper than 512 levels with InvalidEmitError, not a stack overflow', () => {
    const { outbox } = setup()
    const nest = (depth: number) => {
      const root: Record<string, unknown> = {}
      let at = root
      for (let i = 0; i < depth; i++) at = (at.a = {}) as Record<string, unknown>
      return root
    }
    expect(() => outbox.emit('e', nest(20_000))).toThrow(/deeper than 512/)
    expect(() => outbox.emit('e', nest(100))).not.toThrow()
    expect(outbox.size.value).toBe(1)
  })

  it('accepts a value repeated in two places (a DAG is not a cycle)', () => {
    const { outbox } = setup()
    const shared = { x: 1 }
    expect(() => outbox.emit('e', { a: shared, b: shared, list: [shared, shared] })).not.toThrow()
  })

  it('rejects payloads that are not plain objects, and bad event names', () => {
    const { outbox } = setup()
    expect(() => outbox.emit('e', [] as unknown as Record<string, unknown>)).toThrow(InvalidEmitError)
    expect(() => outbox.emit('e', null as unknown as Record<string, unknown>)).toThrow(InvalidEmitError)
    expect(() => outbox.emit('', {})).toThrow(/event name/)
    expect(() => outbox.emit(42 as unknown as string, {})).toThrow(InvalidEmitError)
    expect(() => outbox.emit('e', {}, { keys: { messageId: 5 as unknown as string } })).toThrow(/keys.messageId/)
    expect(() => outbox.emit('e', {}, { ttlMs: -1 })).toThrow(/ttlMs/)
    expect(() => outbox.emit('e', {}, { lane: '' })).toThrow(/lane/)
    expect(outbox.size.value).toBe(0)
  })

  it('rejects an envelope over 256 KiB and accepts one just under', () => {
    const { outbox } = setup()
    expect(() => outbox.emit('e', { blob: 'x'.repeat(256 * 1024) })).toThrow(/256|262144/)
    expect(() => outbox.emit('e', { blob: 'é'.repeat(140 * 1024) })).toThrow(InvalidEmitError)
    expect(() => outbox.emit('e', { blob: 'x'.repeat(255 * 1024) })).not.toThrow()
    expect(outbox.size.value).toBe(1)
  })

  it('throws OutboxFullError at maxSize and keeps what is queued', () => {
    const { outbox } = setup({ maxSize: 3 }, heldTransport())
    for (let i = 0; i < 3; i++) outbox.emit('e', { i })
    expect(() => outbox.emit('e', { i: 3 })).toThrow(OutboxFullError)
    expect(() => outbox.emit('e', { i: 3 })).toThrow(/maxSize/)
    expect(outbox.pending.value.map((i) => i.payload.i)).toEqual([0, 1, 2])
  })

  it('returns the pending duplicate even when full', () => {
    const { outbox } = setup({ maxSize: 1 }, heldTransport())
    const first = outbox.emit('user:message', { messageId: 'm1' })
    expect(outbox.emit('user:message', { messageId: 'm1' })).toEqual(first)
  })

  it('throws OutboxClosedError after close', async () => {
    const { outbox } = setup()
    await outbox.close()
    expect(() => outbox.emit('e', {})).toThrow(OutboxClosedError)
    expect(() => outbox.emit('e', {})).toThrow(/createOutbox/)
  })

  it('puts events in lanes by chatId, then streamId, then "default", or by the lane option and function', () => {
    const { outbox } = setup()
    expect(outbox.emit('e', { chatId: 'c1', streamId: 's1' }).lane).toBe('c1')
    expect(outbox.emit('e', { streamId: 's1' }).lane).toBe('s1')
    expect(outbox.emit('e', {}).lane).toBe('default')
    expect(outbox.emit('e', { chatId: 'c1' }, { lane: 'x' }).lane).toBe('x')
    const custom = setup({ lane: (event) => `by-${event}` }).outbox
    expect(custom.emit('tool:call', {}).lane).toBe('by-tool:call')
  })

  it('validates createOutbox options with clear errors', () => {
    expect(() => setup({ transport: {} as never })).toThrow(/transport/)
    expect(() => setup({ concurrency: 0 })).toThrow(/concurrency/)
    expect(() => setup({ maxSize: 1.5 })).toThrow(/maxSize/)
    expect(() => setup({ mode: 'disk' as never })).toThrow(/mode/)
  })
})
