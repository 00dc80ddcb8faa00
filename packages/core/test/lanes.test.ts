import { describe, expect, it } from 'vitest'
import { ack, fakeTransport, heldTransport, httpError, setup, tick } from './helpers.ts'

describe('lanes', () => {
  it('delivers one lane strictly in emit order, one call at a time', async () => {
    const transport = heldTransport()
    const { outbox } = setup({}, transport)
    const ids = [1, 2, 3].map((n) => outbox.emit('m', { chatId: 'c1', n }).emitId)
    await tick()
    expect(transport.open).toHaveLength(1)
    expect(transport.settle()[0]?.emitId).toBe(ids[0])
    await tick()
    expect(transport.open).toHaveLength(1)
    expect(transport.settle()[0]?.emitId).toBe(ids[1])
    await tick()
    expect(transport.settle()[0]?.emitId).toBe(ids[2])
    await tick()
    expect(outbox.size.value).toBe(0)
  })

  it('runs lanes independently, up to concurrency at once', async () => {
    const transport = heldTransport()
    const { outbox } = setup({ concurrency: 2 }, transport)
    for (const chatId of ['a', 'b', 'c']) outbox.emit('m', { chatId })
    await tick()
    expect(transport.open.map((c) => c.batch[0]?.lane)).toEqual(['a', 'b'])
    transport.settle()
    await tick()
    expect(transport.open.map((c) => c.batch[0]?.lane)).toEqual(['b', 'c'])
  })

  it('blocks only the lane whose head is waiting', async () => {
    const transport = fakeTransport((batch) => batch.map((e) => (e.lane === 'slow' ? httpError(e, 500) : ack(e))))
    const { outbox, clock } = setup({}, transport)
    outbox.emit('m', { chatId: 'slow', n: 1 })
    outbox.emit('m', { chatId: 'slow', n: 2 })
    outbox.emit('m', { chatId: 'fast', n: 1 })
    outbox.emit('m', { chatId: 'fast', n: 2 })
    await clock.advance(0)
    expect(outbox.pending.value.map((i) => [i.lane, i.payload.n, i.status])).toEqual([
      ['slow', 1, 'waiting'],
      ['slow', 2, 'queued'],
    ])
    // The second item of the slow lane was never sent while the head waited.
    expect(transport.calls.filter((c) => c[0]?.lane === 'slow').map((c) => c[0]?.payload.n)).toEqual([1])
  })

  it('gives a lane that waits no concurrency slot: the other lanes use them all', async () => {
    const transport = heldTransport()
    const { outbox, clock } = setup({ concurrency: 2 }, transport)
    for (const chatId of ['a', 'b', 'c', 'd']) outbox.emit('m', { chatId })
    await clock.advance(0)
    expect(transport.open.map((c) => c.batch[0]?.lane)).toEqual(['a', 'b'])
    transport.settle((batch) => batch.map((e) => httpError(e, 500))) // a now waits 400 ms
    transport.settle((batch) => batch.map((e) => httpError(e, 503, 60_000))) // b waits a minute
    await clock.advance(0)
    expect(outbox.pending.value.filter((i) => i.status === 'waiting').map((i) => i.lane)).toEqual(['a', 'b'])
    expect(transport.open.map((c) => c.batch[0]?.lane)).toEqual(['c', 'd'])
  })

  it('moves a terminally failed head to failed and goes on with the lane', async () => {
    const transport = fakeTransport((batch) => batch.map((e) => (e.payload.n === 1 ? httpError(e, 403) : ack(e))))
    const { outbox } = setup({}, transport)
    outbox.emit('m', { chatId: 'c', n: 1 })
    const second = outbox.emit('m', { chatId: 'c', n: 2 })
    await outbox.flush()
    expect(outbox.failed.value.map((i) => i.payload.n)).toEqual([1])
    expect(outbox.failed.value[0]?.error).toMatchObject({
      kind: 'http',
      code: 403,
      retryable: false,
      hint: expect.any(String),
    })
    await expect(outbox.delivered(second.emitId)).resolves.toMatchObject({ ok: true })
  })

  it('gives every lane a turn (round robin), so one busy lane cannot starve others', async () => {
    const transport = heldTransport()
    const { outbox } = setup({ concurrency: 1 }, transport)
    for (let n = 0; n < 3; n++) outbox.emit('m', { chatId: 'busy', n })
    outbox.emit('m', { chatId: 'quiet' })
    await tick()
    transport.settle()
    await tick()
    expect(transport.open[0]?.batch[0]?.lane).toBe('quiet')
  })

  it('batches the ready items at the front of a lane up to maxBatch, never two lanes in one call', async () => {
    const transport = fakeTransport(undefined, 3)
    const { outbox } = setup({}, transport)
    for (let n = 0; n < 5; n++) outbox.emit('m', { chatId: 'a', n })
    outbox.emit('m', { chatId: 'b' })
    await outbox.flush()
    const shapes = transport.calls.map((c) => c.map((e) => `${e.lane}${e.payload.n ?? ''}`))
    expect(shapes).toEqual([['a0', 'a1', 'a2'], ['b'], ['a3', 'a4']])
  })

  it('keeps lane order across retries', async () => {
    let failures = 2
    const transport = fakeTransport((batch) =>
      batch.map((e) => (e.payload.n === 1 && failures-- > 0 ? httpError(e, 503) : ack(e))),
    )
    const { outbox, clock } = setup({}, transport)
    for (let n = 1; n <= 3; n++) outbox.emit('m', { chatId: 'c', n })
    await clock.advance(10_000)
    expect(transport.calls.map((c) => c[0]?.payload.n)).toEqual([1, 1, 1, 2, 3])
  })
})
