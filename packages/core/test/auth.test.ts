import { describe, expect, it } from 'vitest'
import { memoryStorage } from '../src/storage.ts'
import type { EmitEnvelope } from '../src/types.ts'
import { ack, fakeTransport, heldTransport, httpError, setup, tick, until } from './helpers.ts'

/** A server whose token expired: 401 until `token.fresh`, then acks. */
function expiringServer(maxBatch = 1) {
  const token = { fresh: false }
  const transport = fakeTransport((b) => b.map((e) => (token.fresh ? ack(e) : httpError(e, 401))), maxBatch)
  return { token, transport }
}

const refresher = () => {
  let resolve = () => {}
  let reject = (_e: Error) => {}
  let calls = 0
  const onUnauthorized = () => {
    calls++
    return new Promise<void>((res, rej) => {
      resolve = res
      reject = rej
    })
  }
  return { onUnauthorized, calls: () => calls, resolve: () => resolve(), reject: (e: Error) => reject(e) }
}

describe('expired sign-ins (401)', () => {
  it('keeps the item at its lane head, stops every lane, and calls onUnauthorized once', async () => {
    const { token, transport } = expiringServer()
    const refresh = refresher()
    const { outbox } = setup({ onUnauthorized: refresh.onUnauthorized }, transport)
    const seen: EmitEnvelope[] = []
    outbox.on('outbox:unauthorized', ({ envelope }) => seen.push(envelope))
    const a1 = outbox.emit('m', { chatId: 'a', n: 1 })
    const b1 = outbox.emit('m', { chatId: 'b', n: 1 })
    outbox.emit('m', { chatId: 'a', n: 2 })
    await tick()
    await tick()
    // Both lanes' heads went out at once and got 401; nothing more is sent.
    expect(transport.sent().sort()).toEqual([a1.emitId, b1.emitId].sort())
    expect(outbox.auth.value).toBe('required')
    expect(outbox.state.value.auth).toBe('required')
    expect(refresh.calls()).toBe(1)
    expect(seen).toHaveLength(1)
    expect(outbox.failed.value).toEqual([])
    expect(outbox.pending.value.map((i) => [i.lane, i.payload.n, i.status, i.attempts])).toEqual([
      ['a', 1, 'queued', 0],
      ['b', 1, 'queued', 0],
      ['a', 2, 'queued', 0],
    ])
    expect(outbox.pending.value[0]?.lastError?.code).toBe(401)

    token.fresh = true
    refresh.resolve()
    await outbox.flush()
    expect(outbox.auth.value).toBe('ok')
    expect(outbox.size.value).toBe(0)
    const calls = transport.calls.flat().map((e) => `${e.lane}${e.payload.n}`)
    expect(calls.slice(2).filter((c) => c.startsWith('a'))).toEqual(['a1', 'a2'])
  })

  it('resumes on its own when the refresh resolves, without using up maxAttempts', async () => {
    const { token, transport } = expiringServer()
    const refresh = refresher()
    const { outbox } = setup({ onUnauthorized: refresh.onUnauthorized, retry: { maxAttempts: 1 } }, transport)
    const e = outbox.emit('m', { chatId: 'a' })
    await tick()
    expect(outbox.auth.value).toBe('required')
    token.fresh = true
    refresh.resolve()
    await expect(outbox.delivered(e.emitId)).resolves.toMatchObject({ ok: true, emitId: e.emitId })
    expect(transport.calls).toHaveLength(2)
  })

  it('stays stopped when the refresh rejects, until resume() or flush()', async () => {
    const { token, transport } = expiringServer()
    const refresh = refresher()
    const { outbox } = setup({ onUnauthorized: refresh.onUnauthorized }, transport)
    outbox.emit('m', { chatId: 'a' })
    await tick()
    refresh.reject(new Error('refresh failed'))
    await tick()
    await tick()
    expect(outbox.auth.value).toBe('required')
    expect(transport.calls).toHaveLength(1)
    token.fresh = true
    outbox.resume()
    await tick()
    await tick()
    expect(outbox.auth.value).toBe('ok')
    expect(outbox.size.value).toBe(0)
  })

  it('without onUnauthorized, waits for flush(); a new 401 starts a new episode', async () => {
    const { token, transport } = expiringServer()
    const { outbox } = setup({}, transport)
    let episodes = 0
    outbox.on('outbox:unauthorized', () => episodes++)
    outbox.emit('m', { chatId: 'a' })
    await tick()
    expect(outbox.auth.value).toBe('required')
    await outbox.flush() // still expired: a second episode
    expect(episodes).toBe(2)
    expect(outbox.auth.value).toBe('required')
    token.fresh = true
    await outbox.flush()
    expect(outbox.auth.value).toBe('ok')
    expect(outbox.size.value).toBe(0)
  })

  it('keeps every item of a batch answered 401', async () => {
    const { token, transport } = expiringServer(10)
    const refresh = refresher()
    const { outbox } = setup({ onUnauthorized: refresh.onUnauthorized }, transport)
    for (let n = 0; n < 3; n++) outbox.emit('m', { chatId: 'a', n })
    await tick()
    expect(transport.calls[0]).toHaveLength(3)
    expect(outbox.pending.value.map((i) => [i.status, i.attempts])).toEqual([
      ['queued', 0],
      ['queued', 0],
      ['queued', 0],
    ])
    token.fresh = true
    refresh.resolve()
    await outbox.flush()
    expect(transport.calls[1]?.map((e) => e.payload.n)).toEqual([0, 1, 2])
  })

  it('with 401 in hardErrorCodes, fails the item as before and leaves auth alone', async () => {
    const { transport } = expiringServer()
    const refresh = refresher()
    const { outbox } = setup({ onUnauthorized: refresh.onUnauthorized, retry: { hardErrorCodes: [401] } }, transport)
    const e = outbox.emit('m', { chatId: 'a' })
    await expect(outbox.delivered(e.emitId)).rejects.toMatchObject({ error: { code: 401, retryable: false } })
    expect(outbox.auth.value).toBe('ok')
    expect(refresh.calls()).toBe(0)
    expect(outbox.failed.value[0]?.error.hint).toBe('Sign in again and retry.')
  })

  it('lets calls already in flight settle, and counts a 401 as the server answering', async () => {
    const transport = heldTransport()
    const { outbox } = setup({}, transport)
    outbox.emit('m', { chatId: 'a' })
    outbox.emit('m', { chatId: 'b' })
    await tick()
    expect(transport.open).toHaveLength(2)
    transport.settle((b) => b.map((e) => httpError(e, 401)))
    transport.settle() // lane b's ack arrives after the 401
    await tick()
    expect(outbox.auth.value).toBe('required')
    expect(outbox.pending.value.map((i) => i.lane)).toEqual(['a'])
    expect(outbox.breaker.value).toBe('closed')
  })

  it('never stores the auth state: a new session on the key starts signed in', async () => {
    const storage = memoryStorage()
    const { transport } = expiringServer()
    const { outbox: first, clock } = setup({ mode: 'persistent', persistenceKey: 'k', storage }, transport)
    first.emit('m', { chatId: 'a' })
    await until(() => {
      clock.advance(1000) // the sender lock's heartbeats (no Web Locks here)
      return first.auth.value === 'required'
    })
    await first.close()
    const next = setup({ mode: 'persistent', persistenceKey: 'k', storage, onUnauthorized: () => {} }, fakeTransport())
    const second = next.outbox
    expect(second.auth.value).toBe('ok')
    await second.ready
    expect(second.size.value).toBe(1)
    await until(() => {
      next.clock.advance(1000)
      return second.size.value === 0
    })
    expect(second.auth.value).toBe('ok')
    await second.close()
  })
})
