import { readFileSync } from 'node:fs'
import { createOutbox, type Outbox } from '@outbox/core'
import { fakeTransport, hang, httpError, manualNetwork, rejected, testClock } from '@outbox/core/testing'
import { afterEach, describe, expect, it, vi } from 'vitest'

// #region readme
// The app's code under test: send a chat message, and the label shown beside it.
const LABELS = { queued: 'Sending…', sending: 'Sending…', waiting: 'Retrying…', failed: 'Not sent', delivered: 'Sent' }
function sendMessage(outbox: Outbox, chatId: string, text: string) {
  const { emitId } = outbox.emit('user:message', { chatId, text })
  const status = outbox.status(emitId)
  return { emitId, label: () => (status.value === 'unknown' ? '' : LABELS[status.value]) }
}

function setup() {
  const transport = fakeTransport() // acks every event unless told otherwise
  const network = manualNetwork(true)
  const clock = testClock() // time moves only on clock.advance(ms)
  const outbox = createOutbox({ transport, network, clock, retry: { jitter: false } })
  return { outbox, transport, network, clock }
}

describe('sending a chat message', () => {
  it('says "Sent" once the server acks it', async () => {
    const { outbox, transport } = setup()
    const message = sendMessage(outbox, 'c1', 'hello')
    expect(message.label()).toBe('Sending…')
    await outbox.flush()
    expect(message.label()).toBe('Sent')
    expect(transport.sent().map((e) => e.payload.text)).toEqual(['hello'])
  })

  it('waits out the Retry-After of the server before sending again', async () => {
    const { outbox, transport, clock } = setup()
    transport.next(httpError(503, { retryAfterMs: 5_000 }))
    const message = sendMessage(outbox, 'c1', 'hello')
    await clock.advance(0)
    expect(message.label()).toBe('Retrying…')
    await clock.advance(4_999)
    expect(transport.calls).toHaveLength(1)
    await clock.advance(1)
    expect(transport.calls).toHaveLength(2)
    expect(message.label()).toBe('Sent')
  })

  it('keeps messages while offline and sends them in order when back', async () => {
    const { outbox, transport, network, clock } = setup()
    network.set(false)
    sendMessage(outbox, 'c1', 'one')
    sendMessage(outbox, 'c1', 'two')
    await clock.advance(60_000)
    expect(transport.calls).toHaveLength(0)
    network.set(true)
    await outbox.flush()
    expect(transport.sent().map((e) => e.payload.text)).toEqual(['one', 'two'])
  })

  it('shows "Not sent" with the hint of the server, and the next message still goes', async () => {
    const { outbox, transport } = setup()
    transport.next(rejected('forbidden', { hint: 'Ask to be invited.' }))
    const refused = sendMessage(outbox, 'c1', 'hello')
    const next = sendMessage(outbox, 'c1', 'still here')
    await outbox.flush()
    expect(refused.label()).toBe('Not sent')
    expect(outbox.failed.value[0]?.error.hint).toBe('Ask to be invited.')
    expect(next.label()).toBe('Sent')
  })

  it('stays "Sending…" while the server is slow, and the chat waits behind it', async () => {
    const { outbox, transport, clock } = setup()
    transport.next(hang())
    const first = sendMessage(outbox, 'c1', 'first')
    const second = sendMessage(outbox, 'c1', 'second')
    await clock.advance(0)
    expect([first.label(), second.label()]).toEqual(['Sending…', 'Sending…'])
    expect(transport.calls).toHaveLength(1)
    transport.release() // the server answers: ack
    await outbox.flush()
    expect([first.label(), second.label()]).toEqual(['Sent', 'Sent'])
  })
})
// #endregion

describe('the README example', () => {
  it('is the code tested here', () => {
    const source = readFileSync(new URL(import.meta.url), 'utf8')
    const example = source.slice(source.indexOf('// #region readme\n') + 18, source.indexOf('// #endregion'))
    const imports = source
      .split('\n')
      .filter((line) => line.endsWith("from '@outbox/core'") || line.endsWith("/testing'"))
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
    expect(readme).toContain(
      `\`\`\`ts\n${imports.join('\n')}\nimport { describe, expect, it } from 'vitest'\n\n${example}\`\`\``,
    )
  })
})

describe('fakeTransport', () => {
  it('answers the next calls in order, then the default reply', async () => {
    const transport = fakeTransport({ reply: httpError(500) })
    transport.next(httpError(429, { retryAfterMs: 1_000 }), rejected('no', { retryable: true }))
    const e = { emitId: '01HZY3NDEKTSV4RRFFQ69G0001', event: 'm', payload: {}, lane: 'l', createdAt: 0 }
    const signal = new AbortController().signal
    const answers = [
      await transport.send([e], signal),
      await transport.send([e], signal),
      await transport.send([e], signal),
    ]
    expect(answers.map(([r]) => (r?.ok ? 'ack' : [r?.error.kind, r?.error.code, r?.retryAfterMs]))).toEqual([
      ['http', 429, 1_000],
      ['rejected', 'no', undefined],
      ['http', 500, undefined],
    ])
    expect(transport.calls.map((c) => c.state)).toEqual(['answered', 'answered', 'answered'])
  })

  it('classifies HTTP statuses as httpTransport does', () => {
    const retryable = (status: number) => {
      const answer = httpError(status)
      return answer.kind === 'error' && answer.error.retryable
    }
    expect([400, 404, 408, 409, 429, 500, 501, 503].map(retryable)).toEqual([
      false,
      false,
      true,
      true,
      true,
      true,
      false,
      true,
    ])
  })

  it('answers each envelope of a batch through a reply function', async () => {
    const transport = fakeTransport({
      maxBatch: 10,
      reply: (e) => (e.payload.bad ? rejected('bad') : { kind: 'ack', fields: { id: e.payload.n } }),
    })
    const outbox = createOutbox({ transport, network: manualNetwork(), clock: testClock() })
    const good = outbox.emit('m', { n: 1 })
    const bad = outbox.emit('m', { n: 2, bad: true })
    await outbox.flush()
    expect(transport.calls).toHaveLength(1)
    await expect(outbox.delivered(good.emitId)).resolves.toEqual({ id: 1, ok: true, emitId: good.emitId })
    expect(outbox.failed.value.map((f) => f.emitId)).toEqual([bad.emitId])
  })

  it('rejects a hanging call the outbox aborts, and refuses to release what is not hanging', async () => {
    const transport = fakeTransport({ reply: hang() })
    expect(() => transport.release()).toThrow(/no call is hanging/)
    const clock = testClock()
    const outbox = createOutbox({ transport, network: manualNetwork(), clock })
    outbox.emit('m', {})
    await clock.advance(0)
    expect(transport.hanging()).toHaveLength(1)
    const [call] = transport.hanging()
    await outbox.close()
    expect(call?.state).toBe('aborted')
    expect(() => call?.release()).toThrow(/aborted, not hanging/)
  })
})

describe('testClock', () => {
  it('fires due timers in time order as it advances, and none early', async () => {
    const clock = testClock(1_000)
    const fired: string[] = []
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20)
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10)
    const cleared = clock.setTimeout(() => fired.push('cleared'), 5)
    clock.clearTimeout(cleared)
    await clock.advance(15)
    expect(fired).toEqual(['a@1010'])
    expect(clock.now()).toBe(1_015)
    await clock.advance(5)
    expect(fired).toEqual(['a@1010', 'b@1020'])
    expect(clock.timerCount()).toBe(0)
  })
})

describe("vitest's fake timers, with the default clock", () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('drive the outbox without a clock option', async () => {
    vi.useFakeTimers()
    const transport = fakeTransport()
    transport.next(httpError(503, { retryAfterMs: 5_000 }))
    const outbox = createOutbox({ transport, network: manualNetwork() })
    outbox.emit('m', {})
    await vi.advanceTimersByTimeAsync(4_999)
    expect(transport.calls).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(transport.calls).toHaveLength(2)
    expect(outbox.size.value).toBe(0)
    await outbox.close()
  })
})
