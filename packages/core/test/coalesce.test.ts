import { describe, expect, it } from 'vitest'
import type { EmitEnvelope } from '../src/types.ts'
import { fakeTransport, heldTransport, httpError, setup, tick } from './helpers.ts'

describe('dedupe', () => {
  it('returns the pending item for a repeated messageId or requestId and queues nothing', () => {
    const { outbox } = setup({}, heldTransport())
    const m = outbox.emit('user:message', { chatId: 'c', messageId: 'm1', text: 'hi' })
    expect(outbox.emit('user:message', { chatId: 'c', messageId: 'm1', text: 'hi again' })).toEqual(m)
    const r = outbox.emit('tool:call', {}, { keys: { requestId: 'r1' } })
    expect(outbox.emit('tool:call', { requestId: 'r1' })).toEqual(r)
    expect(outbox.size.value).toBe(2)
  })

  it('queues again once the first was delivered', async () => {
    const transport = fakeTransport()
    const { outbox } = setup({}, transport)
    const first = outbox.emit('m', { messageId: 'm1' })
    await outbox.flush()
    expect(outbox.emit('m', { messageId: 'm1' }).emitId).not.toBe(first.emitId)
  })
})

describe('coalescing', () => {
  it('replaces a not-yet-sent item with the same coalesceKey and reports it dropped', () => {
    const { outbox } = setup({ concurrency: 1 }, heldTransport())
    const dropped: Array<[string, string]> = []
    outbox.on('outbox:dropped', (e) => dropped.push([e.envelope.emitId, e.reason]))
    const a = outbox.emit('presence', { state: 'away' }, { coalesceKey: 'presence' })
    const b = outbox.emit('presence', { state: 'back' }, { coalesceKey: 'presence' })
    expect(outbox.pending.value.map((i) => i.emitId)).toEqual([b.emitId])
    expect(dropped).toEqual([[a.emitId, 'coalesced']])
  })

  it('never replaces an item already in flight', async () => {
    const transport = heldTransport()
    const { outbox } = setup({}, transport)
    outbox.emit('presence', { n: 1 }, { coalesceKey: 'p' })
    await tick()
    outbox.emit('presence', { n: 2 }, { coalesceKey: 'p' })
    expect(outbox.pending.value.map((i) => [i.payload.n, i.status])).toEqual([
      [1, 'sending'],
      [2, 'queued'],
    ])
    outbox.emit('presence', { n: 3 }, { coalesceKey: 'p' })
    expect(outbox.pending.value.map((i) => [i.payload.n, i.status])).toEqual([
      [1, 'sending'],
      [3, 'queued'],
    ])
  })

  it('replaces every not-yet-sent item with the key, also one waiting to retry', async () => {
    const transport = heldTransport()
    const { outbox } = setup({}, transport)
    outbox.emit('presence', { chatId: 'c', n: 1 }, { coalesceKey: 'p' })
    await tick() // 1 in flight
    outbox.emit('presence', { chatId: 'c', n: 2 }, { coalesceKey: 'p' }) // 2 queued
    transport.settle((b) => b.map((e) => httpError(e, 500)))
    await tick() // 1 waits to retry
    outbox.emit('presence', { chatId: 'c', n: 3 }, { coalesceKey: 'p' })
    expect(outbox.pending.value.map((i) => i.payload.n)).toEqual([3])
  })

  it('drops an item older than its ttlMs when its turn comes, never sending it', async () => {
    const transport = fakeTransport()
    const { outbox, network, clock } = setup({}, transport)
    const dropped: string[] = []
    outbox.on('outbox:dropped', (e) => dropped.push(e.reason))
    network.set(false)
    const e = outbox.emit('ping', {}, { ttlMs: 1000 })
    const delivered = outbox.delivered(e.emitId).catch((error: unknown) => error)
    await clock.advance(1001)
    network.set(true)
    await clock.advance(0)
    expect(transport.calls).toHaveLength(0)
    expect(dropped).toEqual(['stale'])
    expect(await delivered).toMatchObject({ error: { code: 'stale' } })
  })
})

describe('typing events', () => {
  it('hold typingWindowMs, so a start/stop burst collapses to one send', async () => {
    const transport = fakeTransport()
    const { outbox, clock } = setup({}, transport)
    outbox.emit('typing:start', { chatId: 'c', userId: 'u1' })
    await clock.advance(100)
    outbox.emit('typing:stop', { chatId: 'c', userId: 'u1' })
    await clock.advance(299)
    expect(transport.calls).toHaveLength(0)
    await clock.advance(1)
    expect(transport.calls.flat().map((e: EmitEnvelope) => e.event)).toEqual(['typing:stop'])
  })

  it('coalesce per lane and user, not across them', async () => {
    const { outbox } = setup({}, heldTransport())
    outbox.emit('typing:start', { chatId: 'c1', userId: 'u1' })
    outbox.emit('typing:start', { chatId: 'c1', userId: 'u2' })
    outbox.emit('typing:start', { chatId: 'c2', userId: 'u1' })
    outbox.emit('typing:stop', { chatId: 'c1', userId: 'u1' })
    expect(outbox.pending.value.map((i) => `${i.lane}/${i.payload.userId}/${i.event}`)).toEqual([
      'c1/u2/typing:start',
      'c2/u1/typing:start',
      'c1/u1/typing:stop',
    ])
  })

  it('are dropped as stale after dropStaleTypingMs and never stored', async () => {
    const transport = fakeTransport()
    const { outbox, network, clock } = setup({ coalesce: { dropStaleTypingMs: 2000 } }, transport)
    network.set(false)
    outbox.emit('typing:start', { chatId: 'c', userId: 'u' })
    await clock.advance(2001)
    network.set(true)
    await clock.advance(0)
    expect(transport.calls).toHaveLength(0)
    expect(outbox.size.value).toBe(0)
  })

  it('honour explicit options over the typing defaults', async () => {
    const transport = fakeTransport()
    const { outbox, clock } = setup({ coalesce: { typingWindowMs: 50 } }, transport)
    outbox.emit('typing:start', { chatId: 'c', userId: 'u' }, { coalesceKey: 'mine' })
    outbox.emit('typing:start', { chatId: 'c', userId: 'u' }, { coalesceKey: 'other' })
    await clock.advance(50)
    expect(transport.calls.flat()).toHaveLength(2)
  })
})
