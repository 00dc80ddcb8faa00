import { describe, expect, it } from 'vitest'
import type { DeliveryResult, EmitEnvelope } from '../src/types.ts'
import { ack, fakeTransport, httpError, setup } from './helpers.ts'

describe('circuit breaker', () => {
  it('opens after threshold retryable failures in a row across lanes, then probes once', async () => {
    let up = false
    const transport = fakeTransport((b) => b.map((e) => (up ? ack(e) : httpError(e, 500))))
    const { outbox, clock } = setup({ concurrency: 1, breaker: { threshold: 3, cooldownMs: 5000 } }, transport)
    for (const chatId of ['a', 'b', 'c', 'd']) outbox.emit('m', { chatId })
    await clock.advance(0)
    expect(transport.calls).toHaveLength(3)
    expect(outbox.breaker.value).toBe('open')
    const states: string[] = []
    outbox.subscribe((s) => states.push(s.breaker))
    expect(outbox.state.value.breakerRetryAt).toBe(clock.now() + 5000)
    await clock.advance(4999)
    expect(transport.calls).toHaveLength(3)
    up = true
    await clock.advance(1)
    // One probe went through; its success closed the breaker and every lane resumed.
    expect(transport.calls[3]).toHaveLength(1)
    expect(outbox.breaker.value).toBe('closed')
    await clock.advance(0)
    expect(outbox.size.value).toBe(0)
    expect(states).toContain('open')
    expect(states.at(-1)).toBe('closed')
  })

  it('lets exactly one probe through when half-open, and reopens if it fails', async () => {
    const transport = fakeTransport((b) => b.map((e) => httpError(e, 502)))
    const { outbox, clock } = setup(
      { concurrency: 1, breaker: { threshold: 2, cooldownMs: 1000 }, retry: { baseMs: 10, maxMs: 10 } },
      transport,
    )
    for (const chatId of ['a', 'b', 'c']) outbox.emit('m', { chatId })
    await clock.advance(0)
    expect(transport.calls).toHaveLength(2)
    expect(outbox.breaker.value).toBe('open')
    await clock.advance(1000)
    expect(transport.calls).toHaveLength(3)
    expect(outbox.breaker.value).toBe('open')
    await clock.advance(1000)
    expect(transport.calls).toHaveLength(4)
  })

  it('opens at once on a 503 with Retry-After, for that long, even if a call already in flight succeeds', async () => {
    let calls = 0
    const transport = fakeTransport((b) => b.map((e) => (calls++ === 0 ? httpError(e, 503, 20_000) : ack(e))))
    const { outbox, clock } = setup({}, transport)
    outbox.emit('m', { chatId: 'a' })
    outbox.emit('m', { chatId: 'b' })
    await clock.advance(0)
    expect(outbox.breaker.value).toBe('open')
    expect(outbox.state.value.breakerRetryAt).toBe(clock.now() + 20_000)
    await clock.advance(19_999)
    expect(calls).toBe(2)
    await clock.advance(1)
    expect(outbox.breaker.value).toBe('closed')
    await clock.advance(0)
    expect(outbox.size.value).toBe(0)
  })

  it('is reset by a terminal answer: the server is reachable', async () => {
    const transport = fakeTransport((b) =>
      b.map((e): DeliveryResult => (e.payload.hard ? httpError(e, 400) : httpError(e, 500))),
    )
    const { outbox, clock } = setup({ breaker: { threshold: 2 } }, transport)
    outbox.emit('m', { chatId: 'a' })
    outbox.emit('m', { chatId: 'b', hard: true })
    outbox.emit('m', { chatId: 'c' })
    await clock.advance(0)
    expect(outbox.breaker.value).toBe('closed')
  })

  it('probes at once when flushed while open', async () => {
    let up = false
    const transport = fakeTransport((b) => b.map((e: EmitEnvelope) => (up ? ack(e) : httpError(e, 500))))
    const { outbox, clock } = setup({ breaker: { threshold: 1, cooldownMs: 60_000 } }, transport)
    outbox.emit('m', {})
    await clock.advance(0)
    expect(outbox.breaker.value).toBe('open')
    up = true
    await outbox.flush()
    expect(outbox.breaker.value).toBe('closed')
    expect(outbox.size.value).toBe(0)
  })
})
