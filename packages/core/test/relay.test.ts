import { describe, expect, it } from 'vitest'
import { OutboxError } from '../src/errors.ts'
import { createOutbox } from '../src/outbox.ts'
import { type AcceptRuntime, acceptRelayed, RelayError, type RelaySender, relayToWorker } from '../src/relay.ts'
import { fakeTransport, hang, testClock } from '../src/testing.ts'

type Listener = Parameters<AcceptRuntime['onMessage']['addListener']>[0]

/**
 * `chrome.runtime` of one extension: `sendMessage` reaches every onMessage listener of the worker
 * (as JSON, the way Chrome's messaging copies it) and resolves with the first response, or with
 * undefined when no listener answers, as Chrome does.
 */
function fakeRuntime(id = 'ext-id') {
  const listeners = new Set<Listener>()
  const deliver = (message: unknown, sender: RelaySender) => {
    let response: unknown
    let answered = false
    for (const listener of listeners)
      listener(JSON.parse(JSON.stringify(message)), sender, (r) => {
        if (answered) return
        answered = true
        response = r === undefined ? undefined : JSON.parse(JSON.stringify(r))
      })
    return response
  }
  return {
    id,
    listeners,
    onMessage: {
      addListener: (l: Listener) => void listeners.add(l),
      removeListener: (l: Listener) => void listeners.delete(l),
    },
    /** What a content script of this extension sees. */
    sender: (from: RelaySender = { id, url: 'https://example.com/' }) => ({
      sendMessage: async (message: unknown) => deliver(message, from),
    }),
    deliver,
  }
}

function setup() {
  const runtime = fakeRuntime()
  // Sends stay open, so what was queued stays in `pending` for the test to see.
  const outbox = createOutbox({ transport: fakeTransport({ reply: hang() }), clock: testClock() })
  return { runtime, outbox }
}

describe('relayToWorker and acceptRelayed', () => {
  it('puts a relayed event into the worker outbox and resolves with its envelope', async () => {
    const { runtime, outbox } = setup()
    acceptRelayed(outbox, { runtime })
    const emit = relayToWorker({ runtime: runtime.sender() })
    const envelope = await emit('note:add', { chatId: 'work', text: 'hi' }, { keys: { messageId: 'm1' } })
    expect(envelope).toMatchObject({ event: 'note:add', lane: 'work', keys: { messageId: 'm1' } })
    expect(outbox.pending.value.map((i) => i.emitId)).toEqual([envelope.emitId])
    await outbox.close()
  })

  it('routes by persistence key and leaves other messages to other listeners', async () => {
    const { runtime, outbox } = setup()
    acceptRelayed(outbox, { runtime, persistenceKey: 'notes' })
    expect(runtime.deliver({ greeting: 'hello' }, { id: runtime.id })).toBeUndefined()
    const wrongKey = relayToWorker({ runtime: runtime.sender() })
    await expect(wrongKey('note:add', { text: 'x' })).rejects.toThrow(
      /acceptRelayed\(outbox, \{ persistenceKey: "outbox" \}\)/,
    )
    const emit = relayToWorker({ runtime: runtime.sender(), persistenceKey: 'notes' })
    await emit('note:add', { text: 'y' })
    expect(outbox.size.value).toBe(1)
    await outbox.close()
  })

  it.each([
    ['an event that is not a string', { event: 42, payload: {} }, /event must be/],
    ['an empty event', { event: '', payload: {} }, /event must be/],
    ['a payload that is not an object', { event: 'e', payload: [1] }, /payload must be/],
    ['options that are not an object', { event: 'e', payload: {}, options: 'x' }, /options must be/],
    ['an option a relay may not carry', { event: 'e', payload: {}, options: { lane: 'a', evil: 1 } }, /evil cannot/],
    ['an inherited name as an option', { event: 'e', payload: {}, options: { toString: 'x' } }, /toString cannot/],
    ['a bad lane', { event: 'e', payload: {}, options: { lane: 5 } }, /lane is not valid/],
    ['bad keys', { event: 'e', payload: {}, options: { keys: { other: 'x' } } }, /keys is not valid/],
    ['a negative ttl', { event: 'e', payload: {}, options: { ttlMs: -1 } }, /ttlMs is not valid/],
  ])('refuses %s and queues nothing', async (_, fields, reason) => {
    const { runtime, outbox } = setup()
    acceptRelayed(outbox, { runtime })
    const response = runtime.deliver({ type: 'outbox:emit', to: 'outbox', ...fields }, { id: runtime.id })
    expect(response).toMatchObject({
      ok: false,
      error: { name: 'InvalidRelayError', message: expect.stringMatching(reason) },
    })
    expect(outbox.size.value).toBe(0)
    await outbox.close()
  })

  it('refuses senders of another extension, and those `accept` turns down', async () => {
    const { runtime, outbox } = setup()
    acceptRelayed(outbox, { runtime, accept: (sender) => sender.url?.startsWith('https://example.com/') === true })
    const message = { type: 'outbox:emit', to: 'outbox', event: 'e', payload: {} }
    expect(runtime.deliver(message, { id: 'other-extension' })).toMatchObject({ ok: false })
    expect(runtime.deliver(message, { id: runtime.id, url: 'https://evil.test/' })).toMatchObject({ ok: false })
    expect(runtime.deliver(message, { id: runtime.id, url: 'https://example.com/page' })).toMatchObject({ ok: true })
    expect(outbox.size.value).toBe(1)
    await outbox.close()
  })

  it("passes the worker's emit error back as a RelayError with its name", async () => {
    const { runtime, outbox } = setup()
    acceptRelayed(outbox, { runtime })
    const emit = relayToWorker({ runtime: runtime.sender() })
    const rejected = emit('e', { text: 'x'.repeat(300_000) }) // past the 256 KiB envelope limit
    await expect(rejected).rejects.toBeInstanceOf(RelayError)
    await expect(rejected).rejects.toMatchObject({ reason: 'InvalidEmitError' })
    await outbox.close()
    await expect(emit('e', {})).rejects.toMatchObject({ reason: 'OutboxClosedError' })
  })

  it('stops accepting when asked', async () => {
    const { runtime, outbox } = setup()
    const stop = acceptRelayed(outbox, { runtime })
    stop()
    expect(runtime.listeners.size).toBe(0)
    await outbox.close()
  })

  it('does not trust the answer: anything but an envelope rejects', async () => {
    for (const answer of [{ ok: true, envelope: { emitId: 'not-a-ulid' } }, 'yes', { ok: true }]) {
      const emit = relayToWorker({ runtime: { sendMessage: async () => answer } })
      await expect(emit('e', {})).rejects.toMatchObject({ name: 'RelayError', reason: 'unreachable' })
    }
    const refused = relayToWorker({ runtime: { sendMessage: async () => ({ ok: false, error: { name: 7 } }) } })
    await expect(refused('e', {})).rejects.toMatchObject({ reason: 'unknown', message: /no reason given/ })
  })

  it('rejects with a RelayError when the worker cannot be reached, keeping the cause', async () => {
    const cause = new Error('Could not establish connection. Receiving end does not exist.')
    const emit = relayToWorker({
      runtime: {
        sendMessage: () => Promise.reject(cause),
      },
    })
    await expect(emit('e', {})).rejects.toMatchObject({ name: 'RelayError', reason: 'unreachable', cause })
    await expect(relayToWorker()('e', {})).rejects.toThrow(/extension page or content script/)
  })

  it('throws a typed error when acceptRelayed runs outside an extension', () => {
    const { outbox } = setup()
    expect(() => acceptRelayed(outbox)).toThrow(OutboxError)
    void outbox.close()
  })
})
