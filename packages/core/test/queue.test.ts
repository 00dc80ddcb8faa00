import { describe, expect, it } from 'vitest'
import type { EmitPolicy } from '../src/coalesce.ts'
import { laneAt, laneIds } from '../src/lanes.ts'
import { createQueue, type Entry } from '../src/queue.ts'

const policy: EmitPolicy = { coalesceKey: undefined, ttlMs: undefined, durable: false, holdUntil: 0 }
const id = (n: number) => `01ARZ3NDEK${String(n).padStart(16, '0')}`
const entry = (n: number, lane = 'a'): Entry => ({
  item: { emitId: id(n), event: 'm', payload: {}, lane, createdAt: n, status: 'queued', attempts: 0 },
  policy,
  ageFrom: n,
  failSeq: 0,
})

describe('queue lanes', () => {
  it('keeps a long lane in order while its heads are acked, and takes older ids back in place', () => {
    const queue = createQueue()
    for (let n = 1000; n < 3000; n++) queue.add(entry(n))
    for (let n = 1000; n < 2500; n++) {
      expect(laneAt(queue.lanes, 'a', 0)).toBe(id(n))
      queue.remove(id(n))
    }
    expect(laneAt(queue.lanes, 'a', 0)).toBe(id(2500))
    expect(laneAt(queue.lanes, 'a', 1)).toBe(id(2501))
    expect(laneIds(queue.lanes, 'a', 3)).toEqual([id(2500), id(2501), id(2502)])
    expect(laneIds(queue.lanes, 'a')).toHaveLength(500)
    // A retried item is older than everything left: it goes back to the head.
    queue.add(entry(5))
    queue.remove(id(2700)) // from the middle
    expect(laneIds(queue.lanes, 'a', 3)).toEqual([id(5), id(2500), id(2501)])
    expect(laneIds(queue.lanes, 'a')).toHaveLength(500)
    expect(laneIds(queue.lanes, 'a')).toEqual([...laneIds(queue.lanes, 'a')].sort())
    expect(laneIds(queue.lanes, 'a')).not.toContain(id(2700))
    for (const emitId of laneIds(queue.lanes, 'a')) queue.remove(emitId)
    expect(queue.lanes.has('a')).toBe(false)
    expect(laneAt(queue.lanes, 'a', 0)).toBeUndefined()
    expect(laneIds(queue.lanes, 'a')).toEqual([])
  })

  it('keeps lanes apart', () => {
    const queue = createQueue()
    for (let n = 0; n < 10; n++) queue.add(entry(n, n % 2 ? 'odd' : 'even'))
    queue.remove(id(0))
    queue.remove(id(3))
    expect(laneIds(queue.lanes, 'even')).toEqual([id(2), id(4), id(6), id(8)])
    expect(laneIds(queue.lanes, 'odd')).toEqual([id(1), id(5), id(7), id(9)])
  })
})
