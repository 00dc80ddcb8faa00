import { describe, expect, it } from 'vitest'
import { capTo } from '../src/capped.ts'
import { ACK_MEMORY } from '../src/delivery-promises.ts'
import { OutboxError } from '../src/errors.ts'
import { setup, until } from './helpers.ts'

describe('capTo', () => {
  it('keeps the newest keys, oldest dropped first, over many laps', () => {
    const set = new Set<number>()
    const trim = capTo(set, 3)
    for (let i = 0; i < 1000; i++) {
      set.add(i)
      trim()
      expect(set.size).toBe(Math.min(i + 1, 3))
    }
    expect([...set]).toEqual([997, 998, 999])
  })

  it('skips keys deleted elsewhere and sees keys added again at the new end', () => {
    const map = new Map<string, number>()
    const trim = capTo(map, 2)
    for (const k of ['a', 'b']) map.set(k, 0)
    trim()
    map.delete('a') // gone before the walk reaches it
    map.set('c', 0)
    map.set('a', 0) // back, now the newest
    trim()
    expect([...map.keys()]).toEqual(['c', 'a'])
    map.clear()
    for (const k of ['x', 'y', 'z']) map.set(k, 0)
    trim()
    expect([...map.keys()]).toEqual(['y', 'z'])
  })
})

describe('acks remembered', () => {
  it(`answers for the last ${ACK_MEMORY} acked events and forgets older ones`, async () => {
    const { outbox } = setup()
    const ids = Array.from({ length: ACK_MEMORY + 3 }, (_, i) => outbox.emit('m', { i }).emitId)
    await until(() => outbox.state.value.pending.length === 0)
    const first = ids[0] as string
    const kept = ids[3] as string
    const last = ids[ids.length - 1] as string
    expect(outbox.status(first).value).toBe('unknown')
    expect(outbox.status(ids[2] as string).value).toBe('unknown')
    expect(outbox.status(kept).value).toBe('delivered')
    await expect(outbox.delivered(first)).rejects.toBeInstanceOf(OutboxError)
    await expect(outbox.delivered(last)).resolves.toEqual({ ok: true, emitId: last })
  })
})
