import { describe, expect, it } from 'vitest'
import { type CallFailure, createBreaker, DOWN_AFTER_MS } from '../src/breaker.ts'
import type { DeliveryResult, EmitEnvelope } from '../src/types.ts'
import { ack, fakeClock, fakeTransport, httpError, setup } from './helpers.ts'

const fail = (lane: string, extra: Partial<CallFailure> = {}): CallFailure => ({
  lane,
  probe: false,
  lanes: 4,
  ...extra,
})

/** A breaker on a fake clock with `threshold` 3 and `cooldownMs` 8 000. */
function breakerAt(options = { threshold: 3, cooldownMs: 8000 }) {
  const clock = fakeClock()
  return { clock, breaker: createBreaker(options, clock) }
}

/** Fails `n` calls spread evenly over `ms`, alternating two lanes. */
async function failOver(b: ReturnType<typeof breakerAt>, n: number, ms: number) {
  for (let i = 0; i < n; i++) {
    if (i > 0) await b.clock.advance(ms / (n - 1))
    b.breaker.failure(fail(i % 2 === 0 ? 'a' : 'b'))
  }
}

describe('breaker: opening', () => {
  it('opens after threshold failures in a row from two lanes over at least DOWN_AFTER_MS', async () => {
    const b = breakerAt()
    await failOver(b, 3, DOWN_AFTER_MS)
    expect(b.breaker.state.value).toBe('open')
    expect(b.breaker.retryAt.value).toBe(b.clock.now() + 1000)
  })

  it('stays closed for a burst of failures shorter than DOWN_AFTER_MS (a restart, unlucky requests)', async () => {
    const b = breakerAt()
    await failOver(b, 11, DOWN_AFTER_MS - 10)
    expect(b.breaker.state.value).toBe('closed')
    await b.clock.advance(10)
    b.breaker.failure(fail('a'))
    expect(b.breaker.state.value).toBe('open')
  })

  it('stays closed for a server that answers some requests: any answer starts the count again', async () => {
    const b = breakerAt()
    for (let i = 0; i < 100; i++) {
      b.breaker.failure(fail('a'))
      await b.clock.advance(500)
      b.breaker.failure(fail('b'))
      await b.clock.advance(500)
      b.breaker.success()
    }
    expect(b.breaker.state.value).toBe('closed')
  })

  it('does not open on one lane failing while other lanes have items, but does when it is the only lane', async () => {
    const b = breakerAt()
    for (let i = 0; i < 5; i++) {
      b.breaker.failure(fail('poison'))
      await b.clock.advance(1000)
    }
    expect(b.breaker.state.value).toBe('closed')
    b.breaker.failure(fail('poison', { lanes: 1 }))
    expect(b.breaker.state.value).toBe('open')
  })

  it('holds open until the latest Retry-After among the failures that opened it, if that is later', async () => {
    const b = breakerAt()
    const until = b.clock.now() + 20_000
    b.breaker.failure(fail('a', { retryAfterUntil: until }))
    await b.clock.advance(DOWN_AFTER_MS)
    b.breaker.failure(fail('b'))
    b.breaker.failure(fail('c'))
    expect(b.breaker.state.value).toBe('open')
    expect(b.breaker.retryAt.value).toBe(until)
  })

  it('never opens on a Retry-After alone, with answers around it', async () => {
    const b = breakerAt()
    b.breaker.failure(fail('a', { retryAfterUntil: b.clock.now() + 60_000 }))
    b.breaker.success()
    expect(b.breaker.state.value).toBe('closed')
  })
})

describe('breaker: probing and closing', () => {
  it('lets exactly one probe through per cooldown', async () => {
    const b = breakerAt()
    await failOver(b, 3, DOWN_AFTER_MS)
    expect(b.breaker.allow()).toBe(false)
    await b.clock.advance(999)
    expect(b.breaker.allow()).toBe(false)
    await b.clock.advance(1)
    expect(b.breaker.allow()).toBe('probe')
    expect(b.breaker.state.value).toBe('half-open')
    expect(b.breaker.allow()).toBe(false)
    expect(b.breaker.allow()).toBe(false)
  })

  it('doubles the cooldown after each failed probe, up to cooldownMs', async () => {
    const b = breakerAt()
    await failOver(b, 3, DOWN_AFTER_MS)
    const cooldowns: number[] = []
    for (let i = 0; i < 6; i++) {
      const wait = (b.breaker.retryAt.value ?? 0) - b.clock.now()
      cooldowns.push(wait)
      await b.clock.advance(wait)
      expect(b.breaker.allow()).toBe('probe')
      b.breaker.failure(fail('a', { probe: true }))
    }
    expect(cooldowns).toEqual([1000, 2000, 4000, 8000, 8000, 8000])
  })

  it('closes on the probe’s success and starts the next outage from the first cooldown again', async () => {
    const b = breakerAt()
    await failOver(b, 3, DOWN_AFTER_MS)
    await b.clock.advance(1000)
    b.breaker.allow()
    b.breaker.failure(fail('a', { probe: true }))
    await b.clock.advance(2000)
    expect(b.breaker.allow()).toBe('probe')
    expect(b.breaker.success()).toBe(true)
    expect(b.breaker.state.value).toBe('closed')
    expect(b.breaker.retryAt.value).toBeUndefined()
    expect(b.breaker.allow()).toBe('pass')
    await failOver(b, 3, DOWN_AFTER_MS)
    expect(b.breaker.retryAt.value).toBe(b.clock.now() + 1000)
  })

  it('keeps its cooldown when calls from before the opening fail late, and closes when one succeeds late', async () => {
    const b = breakerAt()
    await failOver(b, 3, DOWN_AFTER_MS)
    const at = b.breaker.retryAt.value
    b.breaker.failure(fail('c'))
    expect(b.breaker.retryAt.value).toBe(at)
    await b.clock.advance(1000)
    expect(b.breaker.allow()).toBe('probe')
    b.breaker.failure(fail('d')) // not the probe: still half-open, the probe is still out
    expect(b.breaker.state.value).toBe('half-open')
    expect(b.breaker.success()).toBe(true)
    expect(b.breaker.state.value).toBe('closed')
  })

  it('ends the cooldown early when expedited, though never before a Retry-After', async () => {
    const b = breakerAt()
    await failOver(b, 3, DOWN_AFTER_MS)
    b.breaker.expedite()
    expect(b.breaker.allow()).toBe('probe')
    b.breaker.failure(fail('a', { probe: true, retryAfterUntil: b.clock.now() + 5000 }))
    expect(b.breaker.retryAt.value).toBe(b.clock.now() + 5000)
    b.breaker.expedite()
    expect(b.breaker.retryAt.value).toBe(b.clock.now() + 5000)
    expect(b.breaker.allow()).toBe(false)
  })

  it('lets another probe through when the probe was aborted', async () => {
    const b = breakerAt()
    await failOver(b, 3, DOWN_AFTER_MS)
    await b.clock.advance(1000)
    expect(b.breaker.allow()).toBe('probe')
    b.breaker.cancelProbe()
    expect(b.breaker.allow()).toBe('probe')
  })

  it('starts with cooldownMs when that is shorter than the first cooldown', async () => {
    const b = breakerAt({ threshold: 3, cooldownMs: 250 })
    await failOver(b, 3, DOWN_AFTER_MS)
    expect(b.breaker.retryAt.value).toBe(b.clock.now() + 250)
  })
})

describe('breaker in the outbox', () => {
  it('sends at most one probe per cooldown to a server that fails everything, then resumes every lane', async () => {
    let up = false
    const transport = fakeTransport((b) => b.map((e) => (up ? ack(e) : httpError(e, 503))))
    const { outbox, clock } = setup({ breaker: { threshold: 10, cooldownMs: 8000 } }, transport)
    for (let i = 0; i < 40; i++) outbox.emit('m', { chatId: `c${i % 8}`, i })
    const states: string[] = []
    outbox.subscribe((s) => states.push(s.breaker))
    let t = 0
    while (outbox.breaker.value === 'closed' && t < 10_000) {
      await clock.advance(100)
      t += 100
    }
    expect(outbox.breaker.value).toBe('open')
    // From here on: one call per cooldown (1, 2, 4, 8, 8 s), each a single item.
    const before = transport.calls.length
    await clock.advance(1000 + 2000 + 4000 + 8000 + 8000 - 1)
    expect(transport.calls.length - before).toBe(4)
    expect(transport.calls.slice(before).every((c) => c.length === 1)).toBe(true)
    up = true
    await clock.advance(1)
    expect(outbox.breaker.value).toBe('closed')
    // The backoff waits the outage piled up are dropped: every lane goes at once.
    await clock.advance(0)
    expect(outbox.size.value).toBe(0)
    expect(states).toContain('half-open')
    expect(states.at(-1)).toBe('closed')
  })

  it('never opens for a server that fails one call in three, whatever the lanes', async () => {
    const transport = fakeTransport((b, call) => b.map((e) => (call % 3 === 0 ? httpError(e, 503, 1000) : ack(e))))
    const { outbox, clock } = setup({}, transport)
    const seen = new Set<string>()
    outbox.subscribe((s) => seen.add(s.breaker))
    for (let i = 0; i < 200; i++) outbox.emit('m', { chatId: `c${i % 20}`, i })
    for (let i = 0; i < 200 && outbox.size.value > 0; i++) await clock.advance(250)
    expect(outbox.size.value).toBe(0)
    expect([...seen]).toEqual(['closed'])
  })

  it('probes a lane whose head is in a long backoff as soon as the cooldown ends', async () => {
    let up = false
    const transport = fakeTransport((b) => b.map((e) => (up ? ack(e) : httpError(e, 500))))
    const { outbox, clock } = setup(
      { breaker: { threshold: 2 }, retry: { baseMs: 60_000, maxMs: 60_000 }, concurrency: 1 },
      transport,
    )
    outbox.emit('m', { chatId: 'a' })
    outbox.emit('m', { chatId: 'b' })
    await clock.advance(DOWN_AFTER_MS) // both failed at once and wait 60 s
    void outbox.flush() // retried now: the first failure opens the breaker
    await clock.advance(0)
    expect(outbox.breaker.value).toBe('open')
    const calls = transport.calls.length
    up = true
    await clock.advance(1000)
    expect(transport.calls.length).toBe(calls + 2)
    expect(outbox.breaker.value).toBe('closed')
    expect(outbox.size.value).toBe(0)
  })

  it('is reset by a terminal answer: the server is reachable', async () => {
    const transport = fakeTransport((b) =>
      b.map((e): DeliveryResult => (e.payload.hard ? httpError(e, 400) : httpError(e, 500))),
    )
    const { outbox, clock } = setup({ breaker: { threshold: 2 }, retry: { baseMs: 600, maxMs: 600 } }, transport)
    outbox.emit('m', { chatId: 'a' })
    outbox.emit('m', { chatId: 'b', hard: true })
    outbox.emit('m', { chatId: 'c' })
    // a and c fail at 0, 600 and 1200: over DOWN_AFTER_MS, but b's answer at 1100 came between.
    await clock.advance(1100)
    outbox.emit('m', { chatId: 'b', hard: true })
    await clock.advance(100)
    expect(transport.calls).toHaveLength(8)
    expect(outbox.breaker.value).toBe('closed')
  })

  it('probes at once when flushed while open', async () => {
    let up = false
    const transport = fakeTransport((b) => b.map((e: EmitEnvelope) => (up ? ack(e) : httpError(e, 500))))
    const { outbox, clock } = setup({ breaker: { threshold: 1, cooldownMs: 60_000 } }, transport)
    outbox.emit('m', {})
    await clock.advance(DOWN_AFTER_MS)
    void outbox.flush()
    await clock.advance(0)
    expect(outbox.breaker.value).toBe('open')
    up = true
    await outbox.flush()
    expect(outbox.breaker.value).toBe('closed')
    expect(outbox.size.value).toBe(0)
  })
})
