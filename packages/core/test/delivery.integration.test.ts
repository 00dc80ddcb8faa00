import { afterEach, describe, expect, it } from 'vitest'
import { httpTransport } from '../src/http-transport.ts'
import { createOutbox } from '../src/outbox.ts'
import type { Outbox } from '../src/types.ts'
import { type Fault, prng, startFaultServer } from './fault-server.ts'

const FAULTS: Fault[] = ['500', '429', '503', 'drop-before', 'drop-after', 'html-200']
let cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const fn of cleanup) await fn()
  cleanup = []
})

/** 30% of requests get a fault, spread evenly over the kinds; the rest succeed. */
const faultsAt = (seed: number, rate = 0.3) => {
  const random = prng(seed)
  return () => (random() < rate ? (FAULTS[Math.floor(random() * FAULTS.length)] as Fault) : 'none')
}

async function runChaos(batch: boolean, seed: number) {
  const server = await startFaultServer({ fault: faultsAt(seed) })
  const outbox: Outbox = createOutbox({
    transport: httpTransport({ url: server.url, batch: batch && { maxItems: 10 }, timeoutMs: 2000 }),
    retry: { baseMs: 2, maxMs: 20 },
    breaker: { cooldownMs: 20 },
    concurrency: 4,
    random: prng(seed + 1),
  })
  cleanup.push(
    () => outbox.close(),
    () => server.close(),
  )
  const emitted = new Map<string, string[]>()
  for (let i = 0; i < 500; i++) {
    const chatId = `chat-${i % 10}`
    const e = outbox.emit('user:message', { chatId, messageId: `m${i}`, text: `message ${i}` })
    emitted.set(chatId, [...(emitted.get(chatId) ?? []), e.emitId])
  }
  const all = [...emitted.values()].flat()
  const acks = await Promise.all(all.map((id) => outbox.delivered(id)))
  return { server, outbox, emitted, all, acks }
}

describe('delivery through real HTTP with 30% faults', () => {
  it.each([
    ['one envelope per request', false, 7],
    ['batches', true, 11],
  ])(
    'applies 500 events over 10 lanes exactly once, in lane order (%s)',
    async (_name, batch, seed) => {
      const { server, outbox, emitted, all, acks } = await runChaos(batch, seed)
      expect(acks.every((a, i) => a.emitId === all[i] && a.ok === true)).toBe(true)
      expect(server.applied.size).toBe(500)
      expect([...server.applied.values()].every((count) => count === 1)).toBe(true)
      for (const [chatId, ids] of emitted) expect(server.laneLog.get(chatId)).toEqual(ids)
      expect(outbox.size.value).toBe(0)
      expect(outbox.failed.value).toEqual([])
      // Every kind of fault actually happened in the run.
      for (const f of FAULTS) expect(server.faults.get(f) ?? 0).toBeGreaterThan(0)
    },
    60_000,
  )

  it('moves server rejections to the failed list and delivers the rest of the lane', async () => {
    const server = await startFaultServer({ reject: (e) => String(e.payload.text).includes('forbidden') })
    const outbox = createOutbox({ transport: httpTransport({ url: server.url }), retry: { baseMs: 2, maxMs: 20 } })
    cleanup.push(
      () => outbox.close(),
      () => server.close(),
    )
    outbox.emit('user:message', { chatId: 'c', text: 'hello' })
    const bad = outbox.emit('user:message', { chatId: 'c', text: 'forbidden word' })
    const after = outbox.emit('user:message', { chatId: 'c', text: 'after' })
    await outbox.delivered(after.emitId)
    expect(outbox.failed.value.map((f) => [f.emitId, f.error.kind, f.error.code, f.error.hint])).toEqual([
      [bad.emitId, 'rejected', 'forbidden-word', 'Remove the word and send again.'],
    ])
    expect(server.laneLog.get('c')).toHaveLength(2)
  })
})
