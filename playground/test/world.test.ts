import type { Envelope } from '@outbox/server'
import { describe, expect, it } from 'vitest'
import { createApp, createWorlds } from '../server/app.ts'
import { createWorld } from '../server/world.ts'
import type { ServerView, SessionAnswer } from '../src/protocol.ts'
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

  it('answers 401 to a token issued before "token expired" went on, and accepts one from /api/session', async () => {
    const worlds = createWorlds()
    const app = createApp(worlds)
    const signIn = async () => ((await (await post(app, '/api/session', { user: 'u' })).json()) as SessionAnswer).token
    const send = (token?: string) =>
      post(
        app,
        '/api/events?user=u',
        envelope('chat:read', { upTo: 'x' }),
        token ? { authorization: `Bearer ${token}` } : {},
      )
    const old = await signIn()
    expect((await send()).status, 'switch off: no token needed').toBe(200)

    await post(app, '/api/control', { user: 'u', faults: { tokenExpired: true } })
    const refused = await send(old)
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toContain('invalid_token')
    expect(await refused.json()).toMatchObject({ ok: false, code: 'unauthorized' })
    expect((await send()).status, 'no token at all').toBe(401)
    expect((await send('made-up')).status, 'a token the server never issued').toBe(401)

    const fresh = await signIn()
    expect(fresh).not.toBe(old)
    expect((await send(fresh)).status, 'the fresh token, switch still on').toBe(200)
    expect((await send(old)).status, 'the old one stays expired').toBe(401)

    // Off and on again: the fresh token expires too.
    await post(app, '/api/control', { user: 'u', faults: { tokenExpired: false } })
    await post(app, '/api/control', { user: 'u', faults: { tokenExpired: true } })
    expect((await send(fresh)).status).toBe(401)
    expect(worlds.get('u').view().counters).toMatchObject({ unauthorized: 5, signIns: 2, applied: { 'chat:read': 2 } })
    expect((await post(app, '/api/session', { user: '../x' })).status).toBe(400)
  })

  it('records who sent each applied event, and lists what no open page sent', async () => {
    const worlds = createWorlds()
    const app = createApp(worlds)
    const message = (text: string) => envelope('user:message', { messageId: `m-${text}`, text })
    await post(app, '/api/events?user=u', message('from the page'))
    await post(app, '/api/events?user=u', message('from the worker'), { 'x-outbox-sender': 'worker' })
    // A fetchLater request is a batch of the lanes' pending items.
    await post(
      app,
      '/api/events?user=u',
      { envelopes: [message('later 1'), message('later 2')] },
      {
        'x-outbox-sender': 'fetch-later',
      },
    )
    await post(app, '/api/events?user=u', message('on hide'), { 'x-outbox-sender': 'keepalive' })
    await post(app, '/api/events?user=u', message('claims to be a robot'), { 'x-outbox-sender': 'robot' })
    const view = worlds.get('u').view()
    expect(view.messages).toHaveLength(6)
    expect(view.counters.bySender).toEqual({ page: 2, worker: 1, 'fetch-later': 2, keepalive: 1 })
    expect(view.counters.requestsBySender).toEqual({ page: 2, worker: 1, 'fetch-later': 1, keepalive: 1 })
    expect(view.late.map((l) => [l.sender, l.what])).toEqual([
      ['worker', '“from the worker”'],
      ['fetch-later', '“later 1”'],
      ['fetch-later', '“later 2”'],
      ['keepalive', '“on hide”'],
    ])
  })
})
