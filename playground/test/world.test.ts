import type { Envelope } from '@outbox/server'
import { describe, expect, it } from 'vitest'
import { createApp, createWorlds } from '../server/app.ts'
import { createWorld } from '../server/world.ts'
import type { ServerView } from '../src/protocol.ts'
import { ulid } from '../src/ulid.ts'

const envelope = (event: string, payload: Record<string, unknown>): Envelope => ({
  emitId: ulid(),
  event,
  payload,
  lane: 'general',
  createdAt: Date.now(),
})

describe('the server world', () => {
  it('stores a message once and answers a re-send with the same messageId from the first', () => {
    const world = createWorld('u')
    expect(world.apply(envelope('user:message', { messageId: 'm1', text: 'hi' }))).toEqual({ messageId: 'm1', seq: 1 })
    expect(world.apply(envelope('user:message', { messageId: 'm1', text: 'hi' }))).toMatchObject({
      seq: 1,
      duplicate: true,
    })
    expect(world.view().messages.map((m) => m.text)).toEqual(['hi'])
    expect(world.view().counters.messageApplies).toEqual({ m1: 2 })
    expect(world.view().bot).toHaveLength(1)
  })

  it('refuses a message with the forbidden word, with a hint', () => {
    const world = createWorld('u')
    const answer = world.apply(envelope('user:message', { messageId: 'm1', text: 'buy SPAM now' }))
    expect(answer).toMatchObject({ ok: false, code: 'blocked-word', hint: expect.stringContaining('spam') })
    expect(world.view().messages).toEqual([])
  })

  it('runs a tool once per requestId, and an abort that arrives first cancels it', () => {
    const world = createWorld('u')
    const first = world.apply(envelope('tool:call', { requestId: 'r1', tool: 't' }))
    const again = world.apply(envelope('tool:call', { requestId: 'r1', tool: 't' }))
    expect(first).toEqual({ requestId: 'r1', result: { ticket: 'T-0001' } })
    expect(again).toEqual({ requestId: 'r1', result: { ticket: 'T-0001' }, replayed: true })
    expect(world.apply(envelope('tool:abort', { requestId: 'r1' }))).toEqual({ requestId: 'r1', tooLate: true })
    expect(world.apply(envelope('tool:abort', { requestId: 'r2' }))).toEqual({ requestId: 'r2', cancelled: true })
    expect(world.apply(envelope('tool:call', { requestId: 'r2', tool: 't' }))).toMatchObject({ code: 'aborted' })
    expect(world.view().toolExecutions).toBe(1)
  })

  it('counts unread bot messages down as read receipts arrive, never back up', () => {
    const world = createWorld('u')
    for (const n of [1, 2, 3]) world.apply(envelope('user:message', { messageId: `m${n}`, text: `t${n}` }))
    expect(world.view().unread).toBe(3)
    world.apply(envelope('chat:read', { upTo: 'bot-2' }))
    expect(world.view()).toMatchObject({ unread: 1, lastRead: 'bot-2', readReceipts: 1 })
    world.apply(envelope('chat:read', { upTo: 'bot-1' })) // a late, older receipt
    expect(world.view()).toMatchObject({ unread: 1, lastRead: 'bot-2', readReceipts: 2 })
  })
})

describe('the API', () => {
  const post = (app: ReturnType<typeof createApp>, path: string, body: unknown, headers: Record<string, string> = {}) =>
    app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })

  it('applies a repeated emitId once and replays the stored ack', async () => {
    const app = createApp(createWorlds())
    const e = envelope('user:message', { messageId: 'm1', text: 'hi' })
    const key = { 'idempotency-key': `"${e.emitId}"` }
    const first = await post(app, '/api/events?user=u', e, key)
    const second = await post(app, '/api/events?user=u', e, key)
    expect(await first.json()).toEqual({ ok: true, emitId: e.emitId, messageId: 'm1', seq: 1 })
    expect(second.headers.get('idempotent-replayed')).toBe('true')
    expect(await second.json()).toEqual({ ok: true, emitId: e.emitId, messageId: 'm1', seq: 1 })
    const view = (await (await app.request('/api/state?user=u')).json()) as ServerView
    expect(view.counters).toMatchObject({ requests: { 'user:message': 2 }, applied: { 'user:message': 1 } })
  })

  it('keeps users apart: the same emitId from another user is another event', async () => {
    const worlds = createWorlds()
    const app = createApp(worlds)
    const e = envelope('user:message', { messageId: 'm1', text: 'hi' })
    await post(app, '/api/events?user=a', e)
    await post(app, '/api/events?user=b', e)
    expect(worlds.get('a').view().messages).toHaveLength(1)
    expect(worlds.get('b').view().messages).toHaveLength(1)
  })

  it('injects the answers the fault panel picks, without applying', async () => {
    const worlds = createWorlds()
    const app = createApp(worlds)
    const control = await post(app, '/api/control', { user: 'u', faults: { status: 429, retryAfterS: 7 } })
    expect(((await control.json()) as ServerView).faults).toMatchObject({ status: 429, retryAfterS: 7 })
    const limited = await post(app, '/api/events?user=u', envelope('chat:read', { upTo: 'x' }))
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '7'])

    await post(app, '/api/control', { user: 'u', faults: { status: 403 } })
    const forbidden = await post(app, '/api/events?user=u', envelope('chat:read', { upTo: 'x' }))
    expect(forbidden.status).toBe(403)
    expect(await forbidden.json()).toMatchObject({ hint: expect.stringContaining('Retry') })
    expect(worlds.get('u').view().counters).toMatchObject({ injected: 2, applied: {} })
  })

  it('ignores unknown or mistyped fault switches, and reset forgets the user', async () => {
    const worlds = createWorlds()
    const app = createApp(worlds)
    await post(app, '/api/control', { user: 'u', faults: { status: 418, slowMs: 'x', dropAcks: 'all', nope: 1 } })
    expect(worlds.get('u').faults).toMatchObject({ status: 0, slowMs: 0, dropAcks: 'all' })
    expect(worlds.get('u').faults).not.toHaveProperty('nope')
    await post(app, '/api/control', { user: 'u', reset: true })
    expect(worlds.get('u').faults.dropAcks).toBe('off')
    expect((await post(app, '/api/control', { user: '../etc' })).status).toBe(400)
  })
})
