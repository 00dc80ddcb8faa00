import { describe, expect, it } from 'vitest'
import { backoffMs, decideRetry, defaultHardErrorCodes, normalizeRetry } from '../src/retry.ts'
import { parseRetryAfter } from '../src/retry-after.ts'
import type { DeliveryResult, EmitEnvelope } from '../src/types.ts'
import { ack, fakeTransport, httpError, setup } from './helpers.ts'

const net = (e: EmitEnvelope): DeliveryResult => ({
  emitId: e.emitId,
  ok: false,
  error: { kind: 'network', message: 'offline', retryable: true },
})

describe('backoff', () => {
  it('grows by factor from baseMs and caps at maxMs', () => {
    const p = normalizeRetry({ jitter: false })
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffMs(p, n, Math.random))).toEqual([
      400, 800, 1600, 3200, 6400, 10_000, 10_000,
    ])
    const q = normalizeRetry({ baseMs: 100, factor: 3, maxMs: 1000, jitter: false })
    expect([1, 2, 3].map((n) => backoffMs(q, n, Math.random))).toEqual([100, 300, 900])
  })

  it('spreads waits ±25% with jitter', () => {
    const p = normalizeRetry()
    expect(backoffMs(p, 1, () => 0)).toBe(300)
    expect(backoffMs(p, 1, () => 0.999999)).toBe(500)
    expect(backoffMs(p, 1, () => 0.5)).toBe(400)
  })

  it('defaults hardErrorCodes to every 4xx but 401, 408, 409, 425, 429; plus 501', () => {
    const hard = new Set(defaultHardErrorCodes)
    for (const code of [401, 408, 409, 425, 429, 500, 502, 503, 504]) expect(hard.has(code)).toBe(false)
    for (const code of [400, 403, 404, 410, 413, 422, 451, 501]) expect(hard.has(code)).toBe(true)
  })

  it('decides with ordered early exits: terminal, attempts, age, then wait', () => {
    const p = normalizeRetry({ jitter: false, maxAttempts: 3, maxAgeMs: 5000 })
    const retryable = { kind: 'network' as const, message: 'x', retryable: true }
    expect(
      decideRetry(p, { attempts: 1, ageMs: 0 }, { ...retryable, retryable: false }, undefined, Math.random),
    ).toMatchObject({
      retry: false,
    })
    expect(decideRetry(p, { attempts: 3, ageMs: 0 }, retryable, undefined, Math.random)).toMatchObject({
      retry: false,
      error: { retryable: false, message: expect.stringMatching(/3 attempts/), hint: expect.any(String) },
    })
    expect(decideRetry(p, { attempts: 1, ageMs: 4900 }, retryable, undefined, Math.random)).toMatchObject({
      retry: false,
      error: { kind: 'expired' },
    })
    expect(decideRetry(p, { attempts: 2, ageMs: 0 }, retryable, 1234, Math.random)).toEqual({
      retry: true,
      waitMs: 1234,
    })
    expect(decideRetry(p, { attempts: 2, ageMs: 0 }, retryable, undefined, Math.random)).toEqual({
      retry: true,
      waitMs: 800,
    })
  })
})

describe('Retry-After', () => {
  const now = Date.parse('2026-11-23T10:00:00Z')
  it('reads delay seconds and HTTP dates', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000)
    expect(parseRetryAfter(' 0 ', now)).toBe(0)
    expect(parseRetryAfter('Mon, 23 Nov 2026 10:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Mon, 23 Nov 2026 09:00:00 GMT', now)).toBe(0)
  })
  it('ignores missing and malformed values', () => {
    for (const v of [null, undefined, '', 'soon', '-5', '1.5', '12abc']) expect(parseRetryAfter(v, now)).toBeUndefined()
  })
})

describe('retrying deliveries', () => {
  it('waits the backoff between attempts on fake time', async () => {
    const transport = fakeTransport((b) => b.map((e) => httpError(e, 500)))
    const { outbox, clock } = setup({}, transport)
    const e = outbox.emit('m', {})
    await clock.advance(0)
    expect(transport.calls).toHaveLength(1)
    expect(outbox.pending.value[0]).toMatchObject({ status: 'waiting', attempts: 1, nextAttemptAt: clock.now() + 400 })
    expect(outbox.pending.value[0]?.lastError).toMatchObject({ kind: 'http', code: 500, retryable: true })
    await clock.advance(399)
    expect(transport.calls).toHaveLength(1)
    await clock.advance(1)
    expect(transport.calls).toHaveLength(2)
    await clock.advance(800)
    expect(transport.calls).toHaveLength(3)
    expect(transport.sent().every((id) => id === e.emitId)).toBe(true)
  })

  it('fails after maxAttempts transport calls with a hint', async () => {
    const transport = fakeTransport((b) => b.map(net))
    const { outbox, clock } = setup({ retry: { maxAttempts: 3 } }, transport)
    const e = outbox.emit('m', {})
    const delivered = outbox.delivered(e.emitId).catch((error: unknown) => error)
    await clock.advance(60_000)
    expect(transport.calls).toHaveLength(3)
    expect(outbox.failed.value[0]).toMatchObject({
      attempts: 3,
      error: { kind: 'network', retryable: false, hint: expect.any(String) },
    })
    expect(await delivered).toMatchObject({ name: 'DeliveryFailedError', error: { kind: 'network' } })
  })

  it('fails items older than maxAgeMs as expired, measured from createdAt', async () => {
    const transport = fakeTransport((b) => b.map(net))
    const { outbox, network, clock } = setup({ retry: { maxAgeMs: 1000 } }, transport)
    network.set(false)
    outbox.emit('m', {})
    await clock.advance(1500)
    network.set(true)
    await clock.advance(0)
    expect(transport.calls).toHaveLength(0)
    expect(outbox.failed.value[0]?.error).toMatchObject({ kind: 'expired', retryable: false, hint: expect.any(String) })
  })

  it('uses Retry-After instead of backoff on 429', async () => {
    let n = 0
    const transport = fakeTransport((b) => b.map((e) => (n++ === 0 ? httpError(e, 429, 7000) : ack(e))))
    const { outbox, clock } = setup({}, transport)
    outbox.emit('m', {})
    await clock.advance(6999)
    expect(transport.calls).toHaveLength(1)
    await clock.advance(1)
    expect(transport.calls).toHaveLength(2)
    expect(outbox.size.value).toBe(0)
  })

  it('retries 409 (in progress) with the same key and fails 422 (key reused) at once', async () => {
    const seen: number[] = []
    const transport = fakeTransport((b) =>
      b.map((e) => {
        seen.push(e.payload.code as number)
        return e.payload.code === 409 && seen.length === 1
          ? httpError(e, 409)
          : e.payload.code === 422
            ? httpError(e, 422)
            : ack(e)
      }),
    )
    const { outbox, clock } = setup({}, transport)
    const a = outbox.emit('m', { chatId: 'a', code: 409 })
    outbox.emit('m', { chatId: 'b', code: 422 })
    await clock.advance(1000)
    expect(transport.calls.filter((c) => c[0]?.emitId === a.emitId)).toHaveLength(2)
    expect(outbox.failed.value).toHaveLength(1)
    expect(outbox.failed.value[0]?.error).toMatchObject({
      code: 422,
      retryable: false,
      hint: expect.stringMatching(/other content/),
    })
  })

  it('honours custom hardErrorCodes over the transport’s classification', async () => {
    const transport = fakeTransport((b) => b.map((e) => httpError(e, 500)))
    const { outbox, clock } = setup({ retry: { hardErrorCodes: [500] } }, transport)
    outbox.emit('m', {})
    await clock.advance(0)
    expect(outbox.failed.value[0]?.error).toMatchObject({ code: 500, retryable: false })
    const soft = fakeTransport((b) =>
      b.map(
        (e): DeliveryResult => ({
          emitId: e.emitId,
          ok: false,
          error: { kind: 'http', code: 403, message: 'HTTP 403', retryable: false },
        }),
      ),
    )
    const s = setup({ retry: { hardErrorCodes: [] } }, soft)
    s.outbox.emit('m', {})
    await s.clock.advance(0)
    expect(s.outbox.pending.value[0]?.status).toBe('waiting')
  })

  it('treats a throwing transport as a retryable network error', async () => {
    let n = 0
    const transport = fakeTransport((b) => (n++ === 0 ? new TypeError('fetch failed') : b.map(ack)))
    const { outbox, clock } = setup({}, transport)
    outbox.emit('m', {})
    await clock.advance(0)
    expect(outbox.pending.value[0]?.lastError).toMatchObject({
      kind: 'network',
      message: 'fetch failed',
      retryable: true,
    })
    await clock.advance(400)
    expect(outbox.size.value).toBe(0)
  })

  it('never takes a malformed transport result as delivered', async () => {
    let n = 0
    const transport = fakeTransport((b) => {
      n++
      if (n === 1) return [{ emitId: 'other', ok: true, ack: {} }] as DeliveryResult[]
      if (n === 2) return [{ emitId: b[0]?.emitId, ok: true }] as unknown as DeliveryResult[]
      if (n === 3) return 'nonsense' as unknown as DeliveryResult[]
      return b.map(ack)
    })
    const { outbox, clock } = setup({}, transport)
    outbox.emit('m', {})
    await clock.advance(0)
    expect(outbox.pending.value[0]?.lastError?.kind).toBe('invalid-ack')
    await clock.advance(400 + 800)
    expect(outbox.pending.value[0]?.attempts).toBe(3)
    await clock.advance(1600)
    expect(outbox.size.value).toBe(0)
  })
})
