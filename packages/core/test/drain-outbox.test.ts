import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { drainOutbox } from '../src/drain-outbox.ts'
import { OutboxError } from '../src/errors.ts'
import { realClock } from '../src/host.ts'
import { createOutbox } from '../src/outbox.ts'
import { memoryStorage } from '../src/storage.ts'
import { ack, fakeTransport, httpError, networkError, rejected } from '../src/testing.ts'
import type { EmitEnvelope } from '../src/types.ts'
import { fakeHost } from './fake-host.ts'
import { tick } from './helpers.ts'

/** Items stored for `key` by an outbox that never sent them (offline), then closed. */
async function stored(storage: ReturnType<typeof memoryStorage>, lanes: string[], count: number) {
  const page = fakeHost({ clock: realClock })
  page.network.set(false)
  const outbox = createOutbox({ transport: fakeTransport(), mode: 'persistent', storage, host: page.host })
  const emitted: EmitEnvelope[] = []
  for (let i = 1; i <= count; i++) for (const chatId of lanes) emitted.push(outbox.emit('m', { chatId, n: i }))
  await outbox.close()
  return emitted
}

const byLane = (list: readonly EmitEnvelope[], lane: string) => list.filter((e) => e.lane === lane).map((e) => e.emitId)

describe('drainOutbox', () => {
  it('sends everything stored, each lane in order, and resolves with the counts', async () => {
    const storage = memoryStorage()
    const emitted = await stored(storage, ['a', 'b', 'c'], 3)
    const transport = fakeTransport()
    const { host } = fakeHost({ clock: realClock })
    const result = await drainOutbox({ transport, persistenceKey: 'outbox', storage, host })
    expect(result).toEqual({ delivered: 9, failed: 0, remaining: 0 })
    for (const lane of ['a', 'b', 'c']) expect(byLane(transport.sent(), lane)).toEqual(byLane(emitted, lane))
    expect(storage.records.size).toBe(0)
  })

  it('waits for the sender lock while a page holds it, and releases it when done', async () => {
    const storage = memoryStorage()
    await stored(storage, ['a'], 2)
    const transport = fakeTransport()
    const fake = fakeHost({ clock: realClock, lead: false })
    let result: unknown
    const drain = drainOutbox({ transport, persistenceKey: 'chat', storage, host: fake.host }).then((r) => (result = r))
    for (let i = 0; i < 20; i++) await tick()
    expect(fake.locks.map((l) => l.name)).toEqual(['chat'])
    expect(transport.calls, 'nothing is sent before the lock is held').toEqual([])
    expect(result).toBeUndefined()
    fake.grant(0)
    await drain
    expect(result).toEqual({ delivered: 2, failed: 0, remaining: 0 })
    expect(fake.locks[0]?.closed, 'the lock is released').toBe(true)
  })

  it('makes one pass: a lane whose head fails stops there, the others empty, no backoff is waited out', async () => {
    const storage = memoryStorage()
    await stored(storage, ['a', 'b'], 3)
    const transport = fakeTransport({ reply: (e) => (e.lane === 'a' ? networkError() : ack()) })
    const fake = fakeHost() // a manual clock that never moves: a wait for backoff would hang here
    const result = await drainOutbox({
      transport,
      persistenceKey: 'outbox',
      storage,
      host: fake.host,
      retry: { baseMs: 1_000 },
    })
    expect(result).toEqual({ delivered: 3, failed: 0, remaining: 3 })
    expect(
      transport.sent().filter((e) => e.lane === 'a'),
      'lane a: its head, once',
    ).toHaveLength(1)
    expect(storage.records.size, 'what is left stays stored').toBe(3)
  })

  it('counts items that fail terminally as failed; they stay stored in the failed list', async () => {
    const storage = memoryStorage()
    await stored(storage, ['a'], 2)
    const transport = fakeTransport()
    transport.next(rejected('forbidden'))
    const result = await drainOutbox({ transport, persistenceKey: 'outbox', storage, host: fakeHost().host })
    expect(result).toEqual({ delivered: 1, failed: 1, remaining: 0 })
    expect(storage.records.size).toBe(1)
  })

  it('ends the pass at a 401 (every lane stops, as in a page): nothing fails, the refresh is asked for once, the next pass delivers the rest in order', async () => {
    const storage = memoryStorage()
    const emitted = await stored(storage, ['a', 'b'], 2)
    let signedIn = false
    const transport = fakeTransport({ reply: (e) => (e.lane === 'a' && !signedIn ? httpError(401) : ack()) })
    let refreshes = 0
    let refreshed = () => {}
    const options = {
      transport,
      persistenceKey: 'outbox',
      storage,
      onUnauthorized: () => {
        refreshes++
        return new Promise<void>((resolve) => (refreshed = resolve))
      },
    }
    const first = await drainOutbox({ ...options, host: fakeHost({ clock: realClock }).host })
    // Lane b's head went out beside lane a's and was acked; after the 401 nothing more is sent.
    expect(first).toEqual({ delivered: 1, failed: 0, remaining: 3 })
    expect(refreshes).toBe(1)
    expect(
      transport
        .sent()
        .map((e) => e.lane)
        .sort(),
    ).toEqual(['a', 'b'])
    expect(storage.records.size, 'the rest stays stored').toBe(3)
    // The worker's refresh lands after its pass ended (the browser fires sync again later).
    signedIn = true
    refreshed()
    const second = await drainOutbox({ ...options, host: fakeHost({ clock: realClock }).host })
    expect(second).toEqual({ delivered: 3, failed: 0, remaining: 0 })
    expect(byLane(transport.sent(), 'a').slice(-2)).toEqual(byLane(emitted, 'a'))
    expect(byLane(transport.sent(), 'b')).toEqual(byLane(emitted, 'b'))
    expect(storage.records.size).toBe(0)
  })

  it('needs the persistenceKey of the outbox to drain', async () => {
    await expect(drainOutbox({ transport: fakeTransport(), persistenceKey: '' })).rejects.toThrow(OutboxError)
  })
})

describe("the README's sync handler", () => {
  it('is the one the end-to-end service worker runs', () => {
    const source = readFileSync(new URL('../e2e/sw.ts', import.meta.url), 'utf8')
    const handler = source.slice(source.indexOf('// #region readme\n') + 18, source.indexOf('// #endregion'))
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
    expect(handler).toContain("self.addEventListener('sync'")
    expect(readme).toContain(handler)
  })
})
