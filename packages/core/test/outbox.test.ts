import { effect } from '@preact/signals-core'
import { describe, expect, it } from 'vitest'
import { OutboxClosedError, OutboxError, OutboxFullError } from '../src/errors.ts'
import type { OutboxState } from '../src/types.ts'
import { ack, fakeTransport, heldTransport, httpError, setup, tick } from './helpers.ts'

describe('subscribe and signals', () => {
  it('calls the subscriber at once, as the Svelte store contract requires', () => {
    const { outbox } = setup()
    const seen: OutboxState[] = []
    outbox.subscribe((s) => seen.push(s))
    expect(seen).toHaveLength(1)
    expect(seen[0]).toEqual({
      pending: [],
      failed: [],
      size: 0,
      online: true,
      breaker: 'closed',
      paused: false,
      auth: 'ok',
    })
  })

  it('notifies once for a loop of 10 000 emits in one tick', async () => {
    const { outbox } = setup({}, heldTransport())
    const sizes: number[] = []
    const updates: number[] = []
    outbox.subscribe((s) => sizes.push(s.size))
    outbox.on('outbox:update', (e) => updates.push(e.size))
    for (let i = 0; i < 10_000; i++) outbox.emit('m', { i })
    await tick()
    expect(sizes).toEqual([0, 10_000])
    expect(updates.length).toBeLessThanOrEqual(2)
    expect(updates[0]).toBe(10_000)
  })

  it('stops notifying after unsubscribe', async () => {
    const { outbox } = setup({}, heldTransport())
    let calls = 0
    const stop = outbox.subscribe(() => calls++)
    stop()
    outbox.emit('m', {})
    await tick()
    expect(calls).toBe(1)
  })

  it('exposes pending, failed, size and online as signals that effects follow', async () => {
    const transport = fakeTransport((b) => b.map((e) => httpError(e, 403)))
    const { outbox } = setup({}, transport)
    const seen: string[] = []
    const stop = effect(() => {
      seen.push(`${outbox.size.value}/${outbox.failed.value.length}`)
    })
    outbox.emit('m', {})
    await outbox.flush()
    stop()
    expect(seen).toEqual(['0/0', '1/0', '0/1'])
  })

  it('tracks one item’s status and one lane as signals', async () => {
    const transport = heldTransport()
    const { outbox } = setup({}, transport)
    const a = outbox.emit('m', { chatId: 'c1' })
    outbox.emit('m', { chatId: 'c2' })
    const status = outbox.status(a.emitId)
    const lane = outbox.lane('c1')
    expect(status.value).toBe('queued')
    expect(lane.value.map((i) => i.emitId)).toEqual([a.emitId])
    await tick()
    expect(status.value).toBe('sending')
    transport.settle()
    await tick()
    expect(status.value).toBe('delivered')
    expect(lane.value).toEqual([])
    expect(outbox.status('01ARZ3NDEKTSV4RRFFQ69G5FAV').value).toBe('unknown')
  })

  it('keeps a lane’s array when only other lanes change', async () => {
    const { outbox } = setup({}, heldTransport())
    outbox.pause()
    outbox.emit('m', { chatId: 'c1' })
    const lane = outbox.lane('c1')
    const before = lane.value
    outbox.emit('m', { chatId: 'c2' })
    expect(lane.value).toBe(before)
    outbox.emit('m', { chatId: 'c1' })
    expect(lane.value).not.toBe(before)
    expect(lane.value).toHaveLength(2)
  })
})

describe('events', () => {
  it('reports acked, failed, dropped and flushed', async () => {
    const transport = fakeTransport((b) => b.map((e) => (e.payload.bad ? httpError(e, 403) : ack(e))))
    const { outbox } = setup({}, transport)
    const log: string[] = []
    outbox.on('outbox:acked', (e) => log.push(`acked ${e.envelope.payload.n} ${String(e.ack.ok)}`))
    outbox.on('outbox:failed', (e) => log.push(`failed ${e.envelope.payload.n} ${e.error.hint}`))
    outbox.on('outbox:dropped', (e) => log.push(`dropped ${e.envelope.payload.n} ${e.reason}`))
    outbox.on('outbox:flushed', () => log.push('flushed'))
    outbox.emit('m', { chatId: 'a', n: 1 })
    outbox.emit('m', { chatId: 'b', n: 2, bad: true })
    const third = outbox.emit('m', { chatId: 'c', n: 3 })
    outbox.discard(third.emitId)
    await outbox.flush()
    expect(log).toEqual([
      'dropped 3 discarded',
      'acked 1 true',
      'failed 2 You are not allowed to do this. Check your access, then retry.',
      'flushed',
    ])
  })

  it('keeps going when a listener throws', async () => {
    const { outbox } = setup()
    const errors: unknown[] = []
    const original = globalThis.reportError
    globalThis.reportError = (e: unknown) => errors.push(e)
    try {
      outbox.on('outbox:acked', () => {
        throw new Error('listener bug')
      })
      const e = outbox.emit('m', {})
      await expect(outbox.delivered(e.emitId)).resolves.toMatchObject({ ok: true })
      expect(errors).toHaveLength(1)
    } finally {
      globalThis.reportError = original
    }
  })

  it('stops calling a listener once its off function runs', async () => {
    const { outbox } = setup()
    let n = 0
    const off = outbox.on('outbox:acked', () => n++)
    off()
    outbox.emit('m', {})
    await outbox.flush()
    expect(n).toBe(0)
  })
})

describe('delivered', () => {
  it('resolves with the ack, also for an item acked before the call', async () => {
    const { outbox } = setup()
    const e = outbox.emit('m', {})
    await expect(outbox.delivered(e.emitId)).resolves.toEqual({ ok: true, emitId: e.emitId })
    await expect(outbox.delivered(e.emitId)).resolves.toEqual({ ok: true, emitId: e.emitId })
  })

  it('remembers at least the last 1 000 acks', async () => {
    const { outbox } = setup()
    const ids = Array.from({ length: 1000 }, (_, i) => outbox.emit('m', { i }).emitId)
    await outbox.flush()
    await expect(outbox.delivered(ids[0] as string)).resolves.toMatchObject({ ok: true })
  })

  it('rejects at once for a failed item, and with OutboxError for an unknown id', async () => {
    const transport = fakeTransport((b) => b.map((e) => httpError(e, 400)))
    const { outbox } = setup({}, transport)
    const e = outbox.emit('m', {})
    await outbox.flush()
    await expect(outbox.delivered(e.emitId)).rejects.toMatchObject({
      name: 'DeliveryFailedError',
      error: { code: 400 },
    })
    await expect(outbox.delivered('nope')).rejects.toBeInstanceOf(OutboxError)
  })

  it('rejects when the item is discarded', async () => {
    const { outbox } = setup({}, heldTransport())
    const e = outbox.emit('m', {})
    const p = outbox.delivered(e.emitId)
    outbox.discard(e.emitId)
    await expect(p).rejects.toMatchObject({ error: { code: 'discarded' } })
  })
})

describe('control', () => {
  it('retry puts failed items back with the same emitId and a fresh attempt budget', async () => {
    let allow = false
    const transport = fakeTransport((b) => b.map((e) => (allow ? ack(e) : httpError(e, 403))))
    const { outbox } = setup({}, transport)
    const a = outbox.emit('m', { chatId: 'a' })
    const b = outbox.emit('m', { chatId: 'b' })
    await outbox.flush()
    expect(outbox.failed.value).toHaveLength(2)
    allow = true
    outbox.retry(a.emitId)
    expect(outbox.pending.value.map((i) => [i.emitId, i.attempts, i.lastError?.code])).toEqual([[a.emitId, 0, 403]])
    await outbox.flush()
    expect(outbox.failed.value.map((i) => i.emitId)).toEqual([b.emitId])
    outbox.retry()
    await outbox.flush()
    expect(outbox.failed.value).toEqual([])
    expect(transport.sent().filter((id) => id === a.emitId)).toHaveLength(2)
  })

  it('retry keeps within maxSize: what does not fit stays failed and OutboxFullError says why', async () => {
    const transport = fakeTransport((b) => b.map((e) => httpError(e, 403)))
    const { outbox } = setup({ maxSize: 2 }, transport)
    outbox.emit('m', { chatId: 'a' })
    outbox.emit('m', { chatId: 'b' })
    await outbox.flush()
    outbox.pause()
    outbox.emit('m', { chatId: 'c' })
    expect(() => outbox.retry()).toThrow(OutboxFullError)
    expect(outbox.size.value).toBe(2)
    expect(outbox.failed.value).toHaveLength(1)
  })

  it('dedupes against every pending item with a key, also after a retry made two of them', async () => {
    const transport = heldTransport()
    const { outbox } = setup({}, transport)
    const a = outbox.emit('m', { chatId: 'c', messageId: 'm1' })
    await tick()
    transport.settle((b) => b.map((e) => httpError(e, 403)))
    await tick()
    const b = outbox.emit('m', { chatId: 'c', messageId: 'm1' })
    outbox.retry(a.emitId)
    await tick()
    transport.settle() // a (older, first in the lane) is acked
    await tick()
    expect(outbox.pending.value.map((i) => i.emitId)).toEqual([b.emitId])
    expect(outbox.emit('m', { chatId: 'c', messageId: 'm1' }).emitId).toBe(b.emitId)
    expect(outbox.size.value).toBe(1)
  })

  it('discard removes pending and failed items', async () => {
    const transport = fakeTransport((b) => b.map((e) => httpError(e, 403)))
    const { outbox } = setup({}, transport)
    const a = outbox.emit('m', {})
    await outbox.flush()
    outbox.discard(a.emitId)
    expect(outbox.failed.value).toEqual([])
    outbox.pause()
    const b = outbox.emit('m', {})
    outbox.discard(b.emitId)
    expect(outbox.pending.value).toEqual([])
  })

  it('pause holds sends until resume', async () => {
    const transport = fakeTransport()
    const { outbox, clock } = setup({}, transport)
    outbox.pause()
    outbox.emit('m', {})
    await clock.advance(10_000)
    expect(transport.calls).toHaveLength(0)
    expect(outbox.state.value.paused).toBe(true)
    outbox.resume()
    await clock.advance(0)
    expect(transport.calls).toHaveLength(1)
  })

  it('flush skips backoff waits and settles when nothing more can be sent', async () => {
    let up = false
    const transport = fakeTransport((b) => b.map((e) => (up ? ack(e) : httpError(e, 500))))
    const { outbox, clock } = setup({ retry: { baseMs: 60_000 } }, transport)
    outbox.emit('m', {})
    await clock.advance(0)
    await outbox.flush()
    expect(transport.calls).toHaveLength(2)
    expect(outbox.pending.value[0]?.status).toBe('waiting')
    up = true
    await outbox.flush()
    expect(outbox.size.value).toBe(0)
  })

  it('flush settles at once while offline', async () => {
    const { outbox, network } = setup()
    network.set(false)
    outbox.emit('m', {})
    await outbox.flush()
    expect(outbox.size.value).toBe(1)
  })

  it('clear forgets everything and rejects waiting deliveries', async () => {
    const transport = heldTransport()
    const { outbox } = setup({}, transport)
    const a = outbox.emit('m', { chatId: 'a', messageId: 'x' })
    const p = outbox.delivered(a.emitId)
    await tick()
    await outbox.clear()
    await expect(p).rejects.toBeInstanceOf(OutboxError)
    expect(outbox.state.value).toMatchObject({ pending: [], failed: [], size: 0 })
    expect(transport.open[0]?.signal.aborted).toBe(true)
    expect(outbox.emit('m', { messageId: 'x' }).emitId).not.toBe(a.emitId)
  })

  it('close({ flush: true }) delivers first, then stops timers and listeners', async () => {
    const transport = fakeTransport()
    const { outbox, clock, network } = setup({}, transport)
    outbox.emit('m', {})
    await outbox.close({ flush: true })
    expect(transport.calls).toHaveLength(1)
    expect(clock.timerCount()).toBe(0)
    expect(network.listenerCount()).toBe(0)
    await outbox.close()
  })

  it('close without flush aborts calls in flight and leaves the items undelivered', async () => {
    const transport = heldTransport()
    const { outbox } = setup({}, transport)
    const e = outbox.emit('m', {})
    const p = outbox.delivered(e.emitId)
    await tick()
    expect(transport.open[0]?.signal.aborted).toBe(false)
    const signal = transport.open[0]?.signal
    await outbox.close()
    expect(signal?.aborted).toBe(true)
    await expect(p).rejects.toBeInstanceOf(OutboxClosedError)
    expect(() => outbox.retry()).toThrow(OutboxClosedError)
  })
})
