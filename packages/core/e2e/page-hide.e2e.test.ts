import { describe, expect, it } from 'vitest'
import {
  allApplied,
  emitMany,
  errors,
  expectDelivered,
  messages,
  openPage,
  pendingIds,
  start,
  state,
  storedKeys,
  uniqueKey,
  useBrowser,
  useServer,
  waitFor,
} from './helpers.ts'

describe('page hide', () => {
  it.each([
    { batch: true, name: 'batches' },
    { batch: false, name: 'single requests' },
  ])(
    '(g) pending items go out with keepalive as the tab closes, and stay stored until a later session sees the ack ($name)',
    async ({ batch }) => {
      const server = await useServer()
      const context = await (await useBrowser()).newContext()
      const key = uniqueKey('hide')
      const page = await openPage(context, server)
      // One failed attempt per lane, then a long backoff: pending, stored, and nothing in flight.
      server.mode = 'fail'
      // Without fetchLater (as in Firefox and Safari): keepalive is the last-chance send.
      await start(page, { persistenceKey: key, batch, retry: { baseMs: 30_000, maxMs: 30_000 }, fetchLater: false })
      const emitted = await emitMany(page, messages(['a', 'b'], 3))
      const ids = emitted.map((e) => e.emitId)
      await waitFor(async () => {
        const s = await state(page)
        const heads = ['a', 'b'].map((lane) => s.pending.find((i) => i.lane === lane))
        return heads.every((h) => h?.status === 'waiting') && s.pending.every((i) => i.status !== 'sending')
      }, 'both lanes to back off after a failure')
      await waitFor(async () => {
        const stored = await storedKeys(page, key)
        return ids.every((id) => stored.includes(id))
      }, 'every item to be stored in IndexedDB')
      expect(server.applied.size).toBe(0)

      server.mode = 'apply'
      const closing = Date.now()
      await page.close({ runBeforeUnload: true })
      // In one batch the whole queue goes; single requests run in parallel, so a lane can only
      // safely hand its head to keepalive. Either way each lane's head must arrive.
      const mustArrive = batch ? emitted : ['a', 'b'].map((lane) => emitted.find((e) => e.lane === lane)!)
      await allApplied(server, mustArrive, 10_000)
      for (const r of server.requests.filter((r) => r.outcome === 'apply'))
        expect(r.at, 'applied only by requests sent as the tab closed').toBeGreaterThanOrEqual(closing)
      await waitFor(() => page.isClosed(), 'the tab to close')
      const sentOnHide = ids.filter((id) => server.applied.has(id))

      // A new session on the same origin: the items are still stored, and the resend of those
      // sent on hide is answered with the server's stored ack for the same emitId.
      const next = await openPage(context, server)
      const stored = await storedKeys(next, key)
      expect(
        ids.filter((id) => !stored.includes(id)),
        'items sent by keepalive stay stored until acked',
      ).toEqual([])
      await start(next, { persistenceKey: key, batch })
      await allApplied(server, emitted)
      await waitFor(async () => (await pendingIds(next)).length === 0, 'the next session to settle the items')
      const acked = await next.evaluate(() => window.harness.acked())
      for (const id of ids)
        expect(acked.find((a) => a.emitId === id)?.ack, `the ack of ${id}`).toEqual(server.results.get(id))
      for (const id of sentOnHide)
        expect(server.received.get(id), `requests that carried ${id}`).toBeGreaterThanOrEqual(2)
      expectDelivered(server, [emitted])
      await waitFor(async () => (await storedKeys(next, key)).length === 0, 'acked items to be deleted from IndexedDB')
      expect(await errors(next)).toEqual([])
    },
  )

  it('(g) keepalive sends on page hide never overtake a request still in flight in the same lane', async () => {
    const server = await useServer()
    const context = await (await useBrowser()).newContext()
    const key = uniqueKey('hide-inflight')
    const page = await openPage(context, server)
    server.script('hold') // the lane's head stays in flight at the server
    await start(page, { persistenceKey: key, fetchLater: false })
    const emitted = await emitMany(page, messages(['a'], 4))
    await server.until(() => server.held.length === 1, 10_000, 'the head of lane a in flight')
    await waitFor(async () => {
      const stored = await storedKeys(page, key)
      return emitted.every((e) => stored.includes(e.emitId))
    }, 'every item to be stored in IndexedDB')

    await page.close({ runBeforeUnload: true })
    await waitFor(() => page.isClosed(), 'the tab to close')
    // Whatever the closing tab sent has arrived once the server has gone quiet for a moment.
    await settle(server)
    server.release() // the in-flight head is applied only now

    const next = await openPage(context, server)
    await start(next, { persistenceKey: key })
    await allApplied(server, emitted)
    await waitFor(async () => (await pendingIds(next)).length === 0, 'the next session to settle the items')
    expectDelivered(server, [emitted])
  })
})

/** Resolves once no request has arrived for `quietMs` (bounded by `timeoutMs`). */
async function settle(server: { requests: readonly { at: number }[] }, quietMs = 300, timeoutMs = 5_000) {
  await waitFor(
    () => Date.now() - (server.requests.at(-1)?.at ?? 0) >= quietMs,
    `the server to be quiet for ${quietMs} ms`,
    { timeoutMs },
  )
}
