import { describe, expect, it } from 'vitest'
import { DOWN_AFTER_MS } from '../src/breaker.ts'
import { createOutbox } from '../src/outbox.ts'
import { memoryStorage } from '../src/storage.ts'
import { ack, fakeClock, fakeTransport, httpError, manualNetwork, setup, uniqueKey, until } from './helpers.ts'

/** A transport that answers a lane's first call with a 503 and `Retry-After` (in ms), then acks. */
function throttledOnce(lane: string, retryAfterMs: number, status = 503) {
  let done = false
  return fakeTransport((b) =>
    b.map((e) => {
      if (e.lane !== lane || done) return ack(e)
      done = true
      return httpError(e, status, retryAfterMs)
    }),
  )
}

const callsOf = (transport: ReturnType<typeof fakeTransport>, lane: string) =>
  transport.calls.filter((c) => c[0]?.lane === lane).length

describe('Retry-After', () => {
  it('holds the item and its lane exactly that long, while other lanes go on', async () => {
    const transport = throttledOnce('a', 5000)
    const { outbox, clock } = setup({}, transport)
    outbox.emit('m', { chatId: 'a', n: 1 })
    outbox.emit('m', { chatId: 'a', n: 2 })
    outbox.emit('m', { chatId: 'b', n: 1 })
    await clock.advance(0)
    outbox.emit('m', { chatId: 'b', n: 2 })
    outbox.emit('m', { chatId: 'c', n: 1 })
    await clock.advance(4999)
    expect(outbox.pending.value.map((i) => [i.lane, i.payload.n, i.status])).toEqual([
      ['a', 1, 'waiting'],
      ['a', 2, 'queued'],
    ])
    expect(outbox.breaker.value).toBe('closed')
    expect(callsOf(transport, 'a')).toBe(1)
    await clock.advance(1)
    expect(outbox.size.value).toBe(0)
  })

  it('is not cut short by flush() or a reconnect, which cut backoff waits', async () => {
    let first = true
    const transport = fakeTransport((b) =>
      b.map((e) => {
        if (!first) return ack(e)
        if (e.lane === 'b') first = false
        return e.lane === 'a' ? httpError(e, 429, 10_000) : httpError(e, 500)
      }),
    )
    const { outbox, clock, network } = setup({}, transport)
    outbox.emit('m', { chatId: 'a' })
    outbox.emit('m', { chatId: 'b' })
    await clock.advance(0)
    await outbox.flush()
    // b's backoff was skipped; a's Retry-After stands.
    expect(outbox.pending.value.map((i) => i.lane)).toEqual(['a'])
    network.set(false)
    network.set(true)
    await clock.advance(9999)
    expect(callsOf(transport, 'a')).toBe(1)
    await clock.advance(1)
    expect(callsOf(transport, 'a')).toBe(2)
    expect(outbox.size.value).toBe(0)
  })

  it('is not cut short when the breaker closes, nor by the breaker’s probe', async () => {
    let up = false
    const transport = fakeTransport((b) =>
      b.map((e) => (up ? ack(e) : e.lane === 'a' ? httpError(e, 503, 30_000) : httpError(e, 500))),
    )
    const { outbox, clock } = setup({ breaker: { threshold: 3 }, retry: { baseMs: 500, maxMs: 500 } }, transport)
    outbox.emit('m', { chatId: 'a' })
    outbox.emit('m', { chatId: 'b' })
    outbox.emit('m', { chatId: 'c' })
    await clock.advance(DOWN_AFTER_MS)
    expect(outbox.breaker.value).toBe('open')
    // The breaker holds every lane until a's Retry-After: the server said so, and every lane agrees.
    expect(outbox.state.value.breakerRetryAt).toBe(clock.now() - DOWN_AFTER_MS + 30_000)
    up = true
    await outbox.flush()
    expect(callsOf(transport, 'a')).toBe(1)
    expect(outbox.breaker.value).toBe('open')
    await clock.advance(30_000 - DOWN_AFTER_MS)
    expect(outbox.breaker.value).toBe('closed')
    expect(outbox.size.value).toBe(0)
    expect(callsOf(transport, 'a')).toBe(2)
  })

  it('still holds after a restart from storage', async () => {
    const storage = memoryStorage()
    const clock = fakeClock()
    const options = { mode: 'persistent' as const, persistenceKey: uniqueKey('ra'), storage, clock }
    const first = createOutbox({
      ...options,
      network: manualNetwork(),
      transport: fakeTransport((b) => b.map((e) => httpError(e, 503, 60_000))),
    })
    await first.ready
    await clock.advance(2000) // leadership settles
    first.emit('m', { chatId: 'a' })
    await until(() => first.pending.value[0]?.status === 'waiting')
    await first.close()
    const transport = fakeTransport()
    const second = createOutbox({ ...options, network: manualNetwork(), transport })
    await second.ready
    await clock.advance(2000)
    await second.flush()
    expect(second.pending.value.map((i) => i.status)).toEqual(['waiting'])
    await clock.advance(57_999) // emitted at 2 s, so due at 62 s; now is 4 s
    expect(transport.calls).toHaveLength(0)
    await clock.advance(1)
    expect(transport.calls).toHaveLength(1)
    await second.close()
  })

  it('holds every item of a batch that got it', async () => {
    let first = true
    const transport = fakeTransport(
      (b) =>
        b.map((e) => {
          if (!first) return ack(e)
          return httpError(e, 503, 2000)
        }),
      10,
    )
    const { outbox, clock } = setup({}, transport)
    for (let n = 0; n < 3; n++) outbox.emit('m', { chatId: 'a', n })
    await clock.advance(0)
    first = false
    await outbox.flush()
    expect(transport.calls).toHaveLength(1)
    await clock.advance(2000)
    expect(transport.calls.map((c) => c.length)).toEqual([3, 3])
  })
})

describe('batches after a failure', () => {
  it('resends the whole failed batch when its head is due, whatever each item’s jitter', async () => {
    let fail = true
    const transport = fakeTransport((b) => b.map((e) => (fail ? httpError(e, 500) : ack(e))), 10)
    let r = 0
    const draws = [0, 1, 0.5, 0.2] // head waits 300 ms, the others up to 500 ms
    const { outbox, clock } = setup(
      { retry: { jitter: true }, random: () => draws[r++ % draws.length] as number },
      transport,
    )
    for (let n = 0; n < 4; n++) outbox.emit('m', { chatId: 'a', n })
    await clock.advance(0)
    fail = false
    await clock.advance(400)
    expect(transport.calls.map((c) => c.length)).toEqual([4, 4])
    expect(outbox.size.value).toBe(0)
  })
})
