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

describe('fetchLater', () => {
  it('(d) a crashed page that thought itself offline still delivers through its armed fetchLater, and the next session settles each item once', async () => {
    const server = await useServer()
    const context = await (await useBrowser()).newContext()
    const key = uniqueKey('crash')
    const page = await openPage(context, server)
    expect(await page.evaluate(() => window.harness.hasFetchLater()), 'fetchLater on http://127.0.0.1').toBe(true)
    await start(page, { persistenceKey: key, offline: true, tab: 'crashed' })
    const emitted = await emitMany(page, messages(['a', 'b'], 4))
    const ids = emitted.map((e) => e.emitId)
    await waitFor(async () => {
      const stored = await storedKeys(page, key)
      return ids.every((id) => stored.includes(id))
    }, 'every item to be stored')
    await waitFor(async () => {
      const armed = await page.evaluate(() => window.harness.armed())
      return ids.every((id) => armed.includes(id))
    }, 'a deferred request armed with every item')
    expect((await state(page)).online).toBe(false)
    expect(server.requests, 'nothing is sent while the page says offline').toEqual([])

    const cdp = await context.newCDPSession(page)
    void cdp.send('Page.crash').catch(() => {}) // the renderer dies before it can answer
    await allApplied(server, emitted)
    expect(
      server.requests.map((r) => `${r.tab} ${r.batch ? 'batch' : 'single'}`),
      'one deferred batch request',
    ).toEqual(['crashed batch'])

    const next = await openPage(context, server)
    const stored = await storedKeys(next, key)
    expect(
      ids.filter((id) => !stored.includes(id)),
      'items sent by fetchLater stay stored until acked',
    ).toEqual([])
    await start(next, { persistenceKey: key, tab: 'next' })
    await waitFor(async () => (await pendingIds(next)).length === 0, 'the next session to settle every item')
    const acked = await next.evaluate(() => window.harness.acked())
    for (const id of ids)
      expect(acked.find((a) => a.emitId === id)?.ack, `the ack of ${id}`).toEqual(server.results.get(id))
    for (const id of ids) expect(server.received.get(id), `requests that carried ${id}`).toBe(2)
    expectDelivered(server, [emitted])
    await waitFor(async () => (await storedKeys(next, key)).length === 0, 'acked items to be deleted')
    expect(await errors(next)).toEqual([])
  })
})
