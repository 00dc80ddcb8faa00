import { createServer } from 'node:http'
import { createOutbox, type DeliveryError, httpTransport, type Outbox } from '@outbox/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { reject } from '../src/ack.ts'
import { createOutboxHandler } from '../src/handler.ts'
import { toNodeListener } from '../src/node.ts'
import type { ApplyResult, Envelope } from '../src/types.ts'
import { listen } from './helpers.ts'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.()
})

type ServerOptions = {
  /** Runs before an event is applied; a throw or a returned rejection means not applied. */
  before?: (e: Envelope, attempt: number) => ApplyResult | undefined
  /** Replaces the answer to these request numbers (1-based) with a captive portal's HTML. */
  loseAnswers?: number[]
}

/** A real server: node:http + toNodeListener + createOutboxHandler, recording what was applied. */
async function startServer(options: ServerOptions = {}) {
  const applied: Envelope[] = []
  const attempts = new Map<string, number>()
  let requests = 0
  const handler = createOutboxHandler({
    apply: (e) => {
      const attempt = (attempts.get(e.emitId) ?? 0) + 1
      attempts.set(e.emitId, attempt)
      const early = options.before?.(e, attempt)
      if (early) return early
      applied.push(e)
      return { serverId: `srv-${applied.length}` }
    },
    onError: vi.fn(),
  })
  const { url, close } = await listen(
    createServer(
      toNodeListener(async (request) => {
        const n = ++requests
        const response = await handler(request)
        if (!options.loseAnswers?.includes(n)) return response
        return new Response('<html>Sign in to the Wi-Fi</html>', { headers: { 'content-type': 'text/html' } })
      }),
    ),
  )
  cleanups.push(close)
  const timesApplied = (emitId: string) => applied.filter((e) => e.emitId === emitId).length
  return { url, applied, timesApplied, requests: () => requests }
}

function outboxFor(url: string, batch: boolean): Outbox {
  const outbox = createOutbox({
    transport: httpTransport({ url, batch }),
    // Retries in a millisecond, so tests wait on delivery, never on a clock.
    retry: { baseMs: 1, maxMs: 2, jitter: false },
  })
  cleanups.push(() => outbox.close())
  return outbox
}

/** Emits `count` messages round-robin over `lanes` chats. */
function emitMessages(outbox: Outbox, count: number, lanes = 3) {
  return Array.from({ length: count }, (_, i) =>
    outbox.emit('user:message', { chatId: `c${i % lanes}`, messageId: `m${i}`, text: `message ${i}` }),
  )
}

describe.each([
  ['single', false],
  ['batch', true],
])('the real client in %s mode', (_mode, batch) => {
  it('delivers every event through the handler exactly once, in lane order', async () => {
    const server = await startServer()
    const outbox = outboxFor(server.url, batch)
    const sent = emitMessages(outbox, 12)
    await outbox.flush()
    expect(outbox.size.value).toBe(0)
    for (const e of sent) expect(server.timesApplied(e.emitId)).toBe(1)
    for (const lane of ['c0', 'c1', 'c2'])
      expect(server.applied.filter((e) => e.lane === lane).map((e) => e.emitId)).toEqual(
        sent.filter((e) => e.lane === lane).map((e) => e.emitId),
      )
    const ack = await outbox.delivered(sent[0]!.emitId)
    expect(ack).toMatchObject({ ok: true, emitId: sent[0]!.emitId, serverId: expect.stringMatching(/^srv-\d+$/) })
    expect(server.applied[0]).toEqual({
      emitId: sent[0]!.emitId,
      event: 'user:message',
      payload: { chatId: 'c0', messageId: 'm0', text: 'message 0' },
      keys: { messageId: 'm0' },
      lane: 'c0',
      createdAt: sent[0]!.createdAt,
    })
    if (batch) expect(server.requests()).toBeLessThan(12)
    else expect(server.requests()).toBe(12)
  })

  it('applies once when answers are lost and the client sends the same emitIds again', async () => {
    const server = await startServer({ loseAnswers: [1, 2] })
    const outbox = outboxFor(server.url, batch)
    const sent = emitMessages(outbox, 6, 2)
    const acks = await Promise.all(sent.map((e) => outbox.delivered(e.emitId)))
    expect(server.requests()).toBeGreaterThan(batch ? 2 : 6)
    for (const [i, e] of sent.entries()) {
      expect(server.timesApplied(e.emitId)).toBe(1)
      expect(acks[i]).toMatchObject({ ok: true, emitId: e.emitId })
    }
    // The client got the stored ack, not a new one: the ids the first apply produced.
    const ids = new Set(acks.map((a) => a.serverId))
    expect(ids.size).toBe(sent.length)
  })

  it('retries an event whose apply threw, keeping its lane in order', async () => {
    const server = await startServer({
      before: (e, attempt) => {
        if (e.payload.messageId === 'm0' && attempt === 1) throw new Error('deadlock')
        return undefined
      },
    })
    const outbox = outboxFor(server.url, batch)
    const sent = emitMessages(outbox, 4, 1)
    await Promise.all(sent.map((e) => outbox.delivered(e.emitId)))
    expect(server.applied.map((e) => e.emitId)).toEqual(sent.map((e) => e.emitId))
  })

  it('fails an event the application rejects, with its code and hint, and the lane continues', async () => {
    const server = await startServer({
      before: (e) => (e.payload.messageId === 'm0' ? reject('forbidden', { hint: 'Sign in again.' }) : undefined),
    })
    const outbox = outboxFor(server.url, batch)
    const [first, second] = emitMessages(outbox, 2, 1)
    const error = await outbox.delivered(first!.emitId).then(
      () => undefined,
      (e: { error?: DeliveryError }) => e.error,
    )
    await outbox.delivered(second!.emitId)
    expect(error).toMatchObject({ kind: 'rejected', code: 'forbidden', retryable: false, hint: 'Sign in again.' })
    expect(outbox.failed.value.map((f) => f.emitId)).toEqual([first!.emitId])
    expect(server.applied.map((e) => e.emitId)).toEqual([second!.emitId])
  })
})
