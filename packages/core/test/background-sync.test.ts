import { describe, expect, it } from 'vitest'
import { SYNC_CHECK_MS, syncTag } from '../src/background-sync.ts'
import { OutboxError } from '../src/errors.ts'
import { createOutbox } from '../src/outbox.ts'
import { memoryStorage } from '../src/storage.ts'
import { fakeTransport, networkError } from '../src/testing.ts'
import type { OutboxOptions } from '../src/types.ts'
import { fakeHost } from './fake-host.ts'
import { tick, turns } from './helpers.ts'

async function setup(over: Partial<OutboxOptions> = {}, hostOptions: Parameters<typeof fakeHost>[0] = {}) {
  const fake = fakeHost(hostOptions)
  const transport = fakeTransport()
  const outbox = createOutbox({
    transport,
    mode: 'persistent',
    storage: memoryStorage(),
    persistenceKey: 'chat',
    backgroundSync: true,
    retry: { baseMs: 60_000, maxMs: 60_000 },
    host: fake.host,
    ...over,
  })
  await tick()
  await outbox.ready
  return { ...fake, outbox, transport }
}

describe('backgroundSync', () => {
  it("names the tag after the persistenceKey: 'outbox:' + key", () => {
    expect(syncTag('chat')).toBe('outbox:chat')
  })

  it('registers the sync tag when durable items are emitted offline', async () => {
    const { outbox, clock, network, tags } = await setup()
    network.set(false)
    outbox.emit('m', { chatId: 'a' })
    await clock.advance(SYNC_CHECK_MS)
    expect(tags).toEqual(['outbox:chat'])
  })

  it('registers it when a failed send leaves an item waiting for its retry', async () => {
    const { outbox, clock, tags, transport } = await setup()
    transport.next(networkError())
    outbox.emit('m', { chatId: 'a' })
    await turns(3)
    expect(outbox.pending.peek()[0]?.status).toBe('waiting')
    await clock.advance(SYNC_CHECK_MS)
    expect(tags).toEqual(['outbox:chat'])
  })

  it('registers it when the page hides with durable items pending, whatever the network', async () => {
    const { outbox, hide, tags } = await setup()
    outbox.pause()
    outbox.emit('m', { chatId: 'a' })
    hide()
    await tick()
    expect(tags).toEqual(['outbox:chat'])
  })

  it('does not register while items are delivered normally', async () => {
    const { outbox, clock, tags, transport } = await setup()
    outbox.emit('m', { chatId: 'a' })
    outbox.emit('m', { chatId: 'b' })
    await turns(3)
    await clock.advance(SYNC_CHECK_MS)
    expect(transport.sent()).toHaveLength(2)
    expect(tags).toEqual([])
  })

  it('ignores items that are not durable', async () => {
    const { outbox, clock, network, hide, tags } = await setup()
    network.set(false)
    outbox.emit('typing', { chatId: 'a' }, { durable: false })
    await clock.advance(SYNC_CHECK_MS)
    hide()
    await tick()
    expect(tags).toEqual([])
  })

  it('registers once per spell, and again after the queue was empty', async () => {
    const { outbox, clock, network, tags } = await setup()
    network.set(false)
    outbox.emit('m', { chatId: 'a' })
    await clock.advance(SYNC_CHECK_MS)
    outbox.emit('m', { chatId: 'a' })
    await clock.advance(SYNC_CHECK_MS)
    expect(tags).toHaveLength(1)
    network.set(true)
    await turns(5)
    expect(outbox.size.peek()).toBe(0)
    network.set(false)
    outbox.emit('m', { chatId: 'a' })
    await clock.advance(SYNC_CHECK_MS)
    expect(tags).toHaveLength(2)
  })

  it('is off by default, and in memory mode', async () => {
    for (const over of [{ backgroundSync: false }, { mode: 'memory' as const }]) {
      const { outbox, clock, network, hide, tags } = await setup(over)
      network.set(false)
      outbox.emit('m', { chatId: 'a' })
      await clock.advance(SYNC_CHECK_MS)
      hide()
      await tick()
      expect(tags, JSON.stringify(over)).toEqual([])
    }
  })

  it('breaks nothing where there is no service worker or SyncManager, and tries again on the next change', async () => {
    let calls = 0
    const { outbox, clock, network, host } = await setup({}, { sync: false })
    const register = host.registerSync?.bind(host)
    host.registerSync = (tag) => {
      calls++
      return calls === 1 ? Promise.reject(new Error('no registration')) : (register?.(tag) ?? Promise.resolve(false))
    }
    network.set(false)
    // The host is read once at creation: a fresh outbox on the patched host.
    const second = createOutbox({
      transport: fakeTransport(),
      mode: 'persistent',
      storage: memoryStorage(),
      backgroundSync: true,
      host,
    })
    await tick()
    second.emit('m', { chatId: 'a' })
    await clock.advance(SYNC_CHECK_MS)
    second.emit('m', { chatId: 'a' })
    await clock.advance(SYNC_CHECK_MS)
    expect(calls).toBe(2)
    expect(second.size.peek()).toBe(2)
    expect(outbox.size.peek()).toBe(0)
  })

  it('rejects a backgroundSync that is not a boolean', () => {
    expect(() => createOutbox({ transport: fakeTransport(), backgroundSync: 'yes' as never })).toThrow(OutboxError)
  })
})
