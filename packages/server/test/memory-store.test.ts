import { describe, expect, it } from 'vitest'
import { type MemoryStore, memoryStore } from '../src/memory-store.ts'
import type { AckResult } from '../src/types.ts'

const ack = (emitId: string): AckResult => ({ ok: true, emitId })

/** The token of a claim that `begin` must have granted. */
async function claim(store: MemoryStore, key: string, fingerprint = 'f'): Promise<string> {
  const found = await store.begin(key, fingerprint)
  if (found.status !== 'started') throw new Error(`expected to claim ${key}, found ${found.status}`)
  return found.token
}

/** Claims and completes `key`, as applyOnce does after `apply` returned. */
async function add(store: MemoryStore, key: string, fingerprint = 'f') {
  expect(await store.complete(key, await claim(store, key, fingerprint), fingerprint, ack(key))).toBe(true)
}

function clock(start = 1_000) {
  let now = start
  return { now: () => now, advance: (ms: number) => void (now += ms) }
}

describe('memoryStore', () => {
  it('claims a free key once and reports the claim to everyone else', async () => {
    const store = memoryStore()
    expect(await store.begin('k', 'f1')).toEqual({ status: 'started', token: expect.any(String), leaseMs: 60_000 })
    expect(await store.begin('k', 'f1')).toEqual({ status: 'in-progress', fingerprint: 'f1' })
    expect(await store.begin('k', 'f2')).toEqual({ status: 'in-progress', fingerprint: 'f1' })
  })

  it('answers the stored result after complete', async () => {
    const store = memoryStore()
    await add(store, 'k', 'f1')
    expect(await store.begin('k', 'f1')).toEqual({ status: 'done', fingerprint: 'f1', result: ack('k') })
  })

  it('frees the key on abandon', async () => {
    const store = memoryStore()
    expect(await store.abandon('k', await claim(store, 'k', 'f1'))).toBe(true)
    expect((await store.begin('k', 'f1')).status).toBe('started')
  })

  it('does not let abandon erase a completed key', async () => {
    const store = memoryStore()
    const token = await claim(store, 'k', 'f1')
    await store.complete('k', token, 'f1', ack('k'))
    expect(await store.abandon('k', token)).toBe(false)
    expect((await store.begin('k', 'f1')).status).toBe('done')
  })

  it('forgets a completed key once its TTL has passed', async () => {
    const time = clock()
    const store = memoryStore({ ttlMs: 1_000, now: time.now })
    await add(store, 'k', 'f1')
    time.advance(999)
    expect((await store.begin('k', 'f1')).status).toBe('done')
    time.advance(1)
    expect((await store.begin('k', 'f1')).status).toBe('started')
  })

  it('keeps completed keys for 24 hours by default', async () => {
    const time = clock()
    const store = memoryStore({ now: time.now })
    await add(store, 'k', 'f1')
    time.advance(24 * 60 * 60 * 1000 - 1)
    expect((await store.begin('k', 'f1')).status).toBe('done')
    time.advance(1)
    expect((await store.begin('k', 'f1')).status).toBe('started')
  })

  it('releases a claim whose lease ran out', async () => {
    const time = clock()
    const store = memoryStore({ leaseMs: 500, now: time.now })
    await store.begin('k', 'f1')
    time.advance(499)
    expect((await store.begin('k', 'f1')).status).toBe('in-progress')
    time.advance(1)
    expect((await store.begin('k', 'f1')).status).toBe('started')
  })

  it('evicts the least recently used completed key beyond maxEntries', async () => {
    const store = memoryStore({ maxEntries: 2 })
    for (const key of ['a', 'b']) {
      await add(store, key, 'f')
    }
    expect((await store.begin('a', 'f')).status).toBe('done') // touches a: b is now the coldest
    await add(store, 'c', 'f')
    expect(store.size).toBe(2)
    expect((await store.begin('a', 'f')).status).toBe('done')
    expect((await store.begin('c', 'f')).status).toBe('done')
    expect((await store.begin('b', 'f')).status).toBe('started')
  })

  it('never evicts a claim in progress', async () => {
    const store = memoryStore({ maxEntries: 1 })
    await store.begin('a', 'f')
    await store.begin('b', 'f')
    expect(store.size).toBe(2)
    expect((await store.begin('a', 'f')).status).toBe('in-progress')
    expect((await store.begin('b', 'f')).status).toBe('in-progress')
  })

  it('keeps least-recently-used order at the cap over many laps, and after clear()', async () => {
    const store = memoryStore({ maxEntries: 100 })
    const put = (key: string) => add(store, key)
    await put('kept')
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 1000; i++) {
        await put(`k${round}-${i}`)
        if (i % 10 === 0) expect((await store.begin('kept', 'f')).status).toBe('done') // touched: stays warm
        expect(store.size).toBeLessThanOrEqual(100)
      }
      expect(store.size).toBe(100)
      expect((await store.begin(`k${round}-999`, 'f')).status).toBe('done')
      expect((await store.begin(`k${round}-901`, 'f')).status).toBe('done')
      expect((await store.begin(`k${round}-890`, 'f')).status).toBe('started') // evicted, so claimable again
      store.clear()
      await put('kept')
    }
  })

  it('sweeps a claim met at the cap once its lease has run out', async () => {
    const time = clock()
    const store = memoryStore({ maxEntries: 2, leaseMs: 100, now: time.now })
    const put = (key: string) => add(store, key)
    await store.begin('hung', 'f') // an apply that never settles
    await put('x')
    await put('y') // over the cap: the claim stays, x goes
    expect(store.size).toBe(2)
    await store.abandon('x', await claim(store, 'x'))
    time.advance(100)
    await put('z')
    await put('w')
    expect(store.size).toBe(2) // the expired claim was forgotten, not kept past the cap for good
    expect((await store.begin('w', 'f')).status).toBe('done')
    expect((await store.begin('z', 'f')).status).toBe('done')
  })

  it('sweeps expired keys from the cold end as new keys arrive', async () => {
    const time = clock()
    const store = memoryStore({ ttlMs: 10, now: time.now })
    await add(store, 'old', 'f')
    time.advance(10)
    await store.begin('new', 'f')
    expect(store.size).toBe(1)
    store.clear()
    expect(store.size).toBe(0)
  })
})
