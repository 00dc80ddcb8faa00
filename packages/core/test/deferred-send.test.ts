import { describe, expect, it } from 'vitest'
import { REARM_MS } from '../src/deferred-send.ts'
import { httpTransport } from '../src/http-transport.ts'
import { createOutbox } from '../src/outbox.ts'
import { memoryStorage } from '../src/storage.ts'
import { fakeTransport as kitTransport, rejected } from '../src/testing.ts'
import type { EmitEnvelope, OutboxOptions, Transport } from '../src/types.ts'
import { fakeHost } from './fake-host.ts'
import { fakeTransport, tick, turns } from './helpers.ts'

const URL_ = 'https://api.example/events'

/** httpTransport's deferred requests over a fake `send`: nothing here touches the network. */
function transportWith(options: Parameters<typeof httpTransport>[0], reply: Transport = fakeTransport()): Transport {
  const http = httpTransport(options)
  return { ...reply, deferredRequests: (list) => http.deferredRequests?.(list) ?? [] }
}

async function setup(over: Partial<OutboxOptions> = {}, hostOptions: Parameters<typeof fakeHost>[0] = {}) {
  const fake = fakeHost(hostOptions)
  fake.network.set(false)
  const outbox = createOutbox({
    transport: transportWith({ url: URL_, headers: { authorization: 'Bearer 1' } }),
    mode: 'persistent',
    storage: memoryStorage(),
    persistenceKey: 'k',
    host: fake.host,
    ...over,
  })
  await tick()
  await outbox.ready
  return { ...fake, outbox }
}

const ids = (list: EmitEnvelope[]) => list.map((e) => e.emitId)

describe('deferred last-chance send (fetchLater)', () => {
  it('keeps one batch request armed with the undelivered durable items, while offline too', async () => {
    const { outbox, clock, armedIds, live } = await setup()
    const durable = [outbox.emit('m', { chatId: 'a' }), outbox.emit('m', { chatId: 'b' })]
    outbox.emit('typing', { chatId: 'a' }, { durable: false })
    await clock.advance(REARM_MS)
    expect(armedIds()).toEqual(ids(durable))
    expect(live()).toHaveLength(1)
    const { request } = live()[0]!
    expect(request).toMatchObject({ url: URL_, method: 'POST' })
    expect(request.headers).toEqual({ authorization: 'Bearer 1', 'content-type': 'application/json' })
    expect(JSON.parse(request.body ?? '')).toEqual({ envelopes: durable.map((e) => ({ ...e })) })
  })

  it("sends at most a batch's worth in one deferred request (the server's batch limit)", async () => {
    const { outbox, clock, armedIds } = await setup()
    const emitted = Array.from({ length: 60 }, () => outbox.emit('m', { chatId: 'a' }))
    await clock.advance(REARM_MS)
    expect(armedIds()).toEqual(ids(emitted).slice(0, 50))
  })

  it('re-arms once per burst of changes, aborting the request armed before', async () => {
    const { outbox, clock, armed, armedIds } = await setup()
    const a1 = outbox.emit('m', { chatId: 'a' })
    await clock.advance(REARM_MS)
    const a2 = outbox.emit('m', { chatId: 'a' })
    const a3 = outbox.emit('m', { chatId: 'a' })
    await clock.advance(REARM_MS)
    expect(armed).toHaveLength(2)
    expect(armed[0]?.signal.aborted).toBe(true)
    expect(armedIds()).toEqual(ids([a1, a2, a3]))
  })

  it('lets go of delivered items: nothing stays armed once the queue is empty', async () => {
    const { outbox, clock, network, armedIds, live } = await setup()
    outbox.emit('m', { chatId: 'a' })
    await clock.advance(REARM_MS)
    expect(armedIds()).toHaveLength(1)
    network.set(true)
    await turns(5)
    expect(outbox.size.peek()).toBe(0)
    await clock.advance(REARM_MS)
    expect(live()).toEqual([])
  })

  it('uses the headers of the moment it is armed', async () => {
    let token = 'one'
    const { outbox, clock, live } = await setup({
      transport: transportWith({ url: URL_, headers: () => ({ authorization: token }) }),
    })
    outbox.emit('m', { chatId: 'a' })
    await clock.advance(REARM_MS)
    expect(live()[0]?.request.headers.authorization).toBe('one')
    token = 'two'
    outbox.emit('m', { chatId: 'a' })
    await clock.advance(REARM_MS)
    expect(live()[0]?.request.headers.authorization).toBe('two')
  })

  it('arms nothing while paused, and arms again on resume', async () => {
    const { outbox, clock, live, armedIds } = await setup()
    const a1 = outbox.emit('m', { chatId: 'a' })
    await clock.advance(REARM_MS)
    outbox.pause()
    await clock.advance(REARM_MS)
    expect(live()).toEqual([])
    outbox.resume()
    await clock.advance(REARM_MS)
    expect(armedIds()).toEqual([a1.emitId])
  })

  it('arms fewer items, oldest first, when the browser says the quota is exceeded', async () => {
    const { outbox, clock, armedIds } = await setup({}, { quotaBytes: 1_000 })
    const emitted = Array.from({ length: 12 }, (_, i) =>
      outbox.emit('m', { chatId: i % 2 ? 'a' : 'b', text: 'x'.repeat(100) }),
    )
    await clock.advance(REARM_MS)
    const armed = armedIds()
    expect(armed.length).toBeGreaterThan(0)
    expect(armed.length).toBeLessThan(emitted.length)
    expect(armed).toEqual(ids(emitted).slice(0, armed.length))
  })

  it('with `request`, arms one request per lane head, oldest first, until the quota is full', async () => {
    const transport = transportWith({
      url: URL_,
      request: (e) => ({ url: `/chats/${String(e.payload.chatId)}/messages`, body: e.payload }),
    })
    const { outbox, clock, live } = await setup({ transport }, { quotaBytes: 60 })
    outbox.emit('m', { chatId: 'a', text: 'a1' })
    outbox.emit('m', { chatId: 'a', text: 'a2' })
    outbox.emit('m', { chatId: 'b', text: 'b1' })
    outbox.emit('m', { chatId: 'c', text: 'c1' })
    await clock.advance(REARM_MS)
    // Each body is about 25 bytes: a1 and b1 fit in 60, c1 does not; a2 would overtake a1.
    expect(live().map((a) => [a.request.url, a.request.body])).toEqual([
      ['https://api.example/chats/a/messages', '{"chatId":"a","text":"a1"}'],
      ['https://api.example/chats/b/messages', '{"chatId":"b","text":"b1"}'],
    ])
  })

  it('arms nothing with a transport that cannot build a deferred request; keepalive stays the page-hide send', async () => {
    const beacons: string[][] = []
    const transport: Transport = {
      ...fakeTransport(),
      sendBeacon: (groups) => void beacons.push(...groups.map((g) => g.map((e) => e.emitId))),
    }
    const { outbox, clock, network, armed, hide } = await setup({ transport })
    outbox.emit('m', { chatId: 'a' })
    await clock.advance(REARM_MS)
    expect(armed).toEqual([])
    network.set(true) // a goes out; b, emitted in this task, is still queued as the page hides
    const b = outbox.emit('m', { chatId: 'b' })
    hide()
    expect(beacons).toEqual([[b.emitId]])
  })

  /** Emits a (armed, where the browser has fetchLater), comes online, emits b and hides: the keepalive sends. */
  async function keepaliveSendsOnHide(hostOptions: Parameters<typeof fakeHost>[0] = {}) {
    const beacons: unknown[] = []
    const transport: Transport = { ...transportWith({ url: URL_ }), sendBeacon: (groups) => void beacons.push(groups) }
    const { outbox, clock, network, hide } = await setup({ transport }, hostOptions)
    outbox.emit('m', { chatId: 'a' })
    await clock.advance(REARM_MS)
    network.set(true)
    outbox.emit('m', { chatId: 'b' }) // queued as the page hides: keepalive would take it
    hide()
    return beacons
  }

  it('replaces the keepalive on page hide once the browser took a deferred request', async () => {
    expect(await keepaliveSendsOnHide()).toEqual([])
  })

  it('keeps the keepalive where the browser has no fetchLater', async () => {
    expect(await keepaliveSendsOnHide({ fetchLater: false })).toHaveLength(1)
  })

  it('arms at once when the page hides with a re-arm still waiting', async () => {
    const { outbox, armedIds, hide } = await setup()
    const a1 = outbox.emit('m', { chatId: 'a' })
    await tick()
    hide()
    expect(armedIds()).toEqual([a1.emitId])
  })

  it('arms again when the page is back from the back/forward cache', async () => {
    const { outbox, clock, armed, restore } = await setup()
    outbox.emit('m', { chatId: 'a' })
    await clock.advance(REARM_MS)
    restore()
    await clock.advance(REARM_MS)
    expect(armed).toHaveLength(2)
  })

  it('aborts what is armed on close() and on clear()', async () => {
    for (const end of ['close', 'clear'] as const) {
      const { outbox, clock, live } = await setup()
      outbox.emit('m', { chatId: 'a' })
      await clock.advance(REARM_MS)
      expect(live()).toHaveLength(1)
      const done = end === 'close' ? outbox.close() : outbox.clear()
      expect(live(), `after ${end}()`).toEqual([])
      await clock.advance(5_000)
      await done
      expect(live(), `after ${end}() settled`).toEqual([])
    }
  })

  it('arms nothing in memory mode', async () => {
    const { outbox, clock, armed } = await setup({ mode: 'memory' })
    outbox.emit('m', { chatId: 'a' })
    await clock.advance(REARM_MS)
    expect(armed).toEqual([])
  })
})

describe('deferred last-chance send, order', () => {
  it('arms the oldest items first even when a retried item joined the queue at its end', async () => {
    const fake = fakeHost()
    const reply = kitTransport()
    reply.next(rejected('not-now'))
    const outbox = createOutbox({
      transport: transportWith({ url: URL_ }, reply),
      mode: 'persistent',
      storage: memoryStorage(),
      host: fake.host,
    })
    await tick()
    await outbox.ready
    const a1 = outbox.emit('m', { chatId: 'a' })
    await turns(3)
    expect(outbox.failed.peek().map((f) => f.emitId)).toEqual([a1.emitId])
    fake.network.set(false)
    const b1 = outbox.emit('m', { chatId: 'b' })
    outbox.retry(a1.emitId) // back in the queue after b1 was emitted
    await fake.clock.advance(REARM_MS)
    expect(fake.armedIds()).toEqual([a1.emitId, b1.emitId])
  })
})
