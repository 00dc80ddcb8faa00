import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import {
  allApplied,
  emitMany,
  errors,
  expectDelivered,
  messages,
  openPage,
  state,
  uniqueKey,
  useBrowser,
  useServer,
  waitFor,
} from './helpers.ts'
import type { Emitted } from './page.ts'

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i])

/** Polls until both tabs' `pending` hold exactly `ids` (as a set) in the same order; returns that order. */
async function sharedQueue(one: Page, two: Page, emitted: Emitted[]): Promise<string[]> {
  const want = new Set(emitted.map((e) => e.emitId))
  let last: unknown
  try {
    return await waitFor(async () => {
      const [a, b] = await Promise.all([state(one), state(two)])
      const ida = a.pending.map((i) => i.emitId)
      const idb = b.pending.map((i) => i.emitId)
      last = { one: ida.length, two: idb.length, same: sameList(ida, idb) }
      return sameList(ida, idb) && ida.length === want.size && ida.every((id) => want.has(id)) && ida
    }, 'both tabs to show the same shared queue of every item')
  } catch (error) {
    throw new Error(`${(error as Error).message}; pending sizes ${JSON.stringify(last)}`)
  }
}

describe('several tabs on one persistenceKey', () => {
  it('(c) two tabs emitting at once: one sends, each item is applied once in lane order, both show the shared queue', async () => {
    const server = await useServer()
    const context = await (await useBrowser()).newContext()
    const key = uniqueKey('tabs')
    const one = await openPage(context, server)
    const two = await openPage(context, server)
    server.mode = 'hold'
    await one.evaluate((k) => window.harness.start({ persistenceKey: k, tab: 'one' }), key)
    await two.evaluate((k) => window.harness.start({ persistenceKey: k, tab: 'two' }), key)

    const [fromOne, fromTwo] = await Promise.all([
      emitMany(one, messages(['a', 'b'], 5, 'one'), 0),
      emitMany(two, messages(['a', 'b'], 5, 'two'), 0),
    ])
    const all = [...fromOne, ...fromTwo]
    await sharedQueue(one, two, all)
    await server.until(() => server.held.length > 0, 10_000, 'a send in flight')
    await waitFor(async () => {
      const [a, b] = await Promise.all([state(one), state(two)])
      const view = (s: typeof a) => JSON.stringify(s.pending.map((i) => [i.emitId, i.status]))
      return view(a) === view(b)
    }, 'both tabs to show the same statuses (the sender’s heads in flight)')
    expect(new Set(server.requests.map((r) => r.tab)).size, 'exactly one tab sends').toBe(1)

    server.mode = 'apply'
    server.release()
    await allApplied(server, all)
    await waitFor(async () => {
      const [a, b] = await Promise.all([state(one), state(two)])
      return a.pending.length === 0 && b.pending.length === 0
    }, 'both tabs’ pending to empty')
    expectDelivered(server, [fromOne, fromTwo])
    expect(new Set(server.requests.map((r) => r.tab)).size, 'exactly one tab sent').toBe(1)
    expect([...(await errors(one)), ...(await errors(two))]).toEqual([])
  })

  it('(d) the sending tab closes mid-flush: the other takes over; nothing applied twice, nothing lost', async () => {
    const server = await useServer()
    const context = await (await useBrowser()).newContext()
    const key = uniqueKey('takeover')
    const tabs = { one: await openPage(context, server), two: await openPage(context, server) }
    server.mode = 'hold'
    await tabs.one.evaluate((k) => window.harness.start({ persistenceKey: k, tab: 'one' }), key)
    await tabs.two.evaluate((k) => window.harness.start({ persistenceKey: k, tab: 'two' }), key)
    const [fromOne, fromTwo] = await Promise.all([
      emitMany(tabs.one, messages(['a', 'b'], 3, 'one'), 0),
      emitMany(tabs.two, messages(['a', 'b'], 3, 'two'), 0),
    ])
    const all = [...fromOne, ...fromTwo]
    await server.until(() => server.held.length > 0, 10_000, 'a send in flight')
    await sharedQueue(tabs.one, tabs.two, all)

    const leader = server.held[0]?.tab as 'one' | 'two'
    expect(['one', 'two']).toContain(leader)
    const follower = leader === 'one' ? 'two' : 'one'
    // Only the sender's first requests are held: the closing tab's keepalive requests are answered,
    // so they cannot use up the browser's six connections to this origin.
    server.mode = 'apply'
    const sentBefore = server.requests.length
    await tabs[leader].close()
    // The follower becomes the sender while the old sender's requests are still held (in progress).
    await server.until(
      () => server.requests.slice(sentBefore).some((r) => r.tab === follower),
      15_000,
      `tab ${follower} to send after tab ${leader} closed`,
    )
    server.release() // the held requests are applied now; their client is gone

    await allApplied(server, all)
    await waitFor(async () => (await state(tabs[follower])).pending.length === 0, `tab ${follower}'s pending to empty`)
    expectDelivered(server, [fromOne, fromTwo])
    expect(await errors(tabs[follower])).toEqual([])
  })

  it('(e) a sender alone posts no tab messages; a tab that opens while it delivers ends in step with it', async () => {
    const server = await useServer()
    const context = await (await useBrowser()).newContext()
    const key = uniqueKey('alone')
    const one = await openPage(context, server)
    // A listener in the sender's own page hears what the outbox posts to other tabs (it is no outbox).
    await one.evaluate((k) => {
      const heard: string[] = []
      ;(window as unknown as { heard: string[] }).heard = heard
      new BroadcastChannel(`outbox:${k}`).onmessage = ({ data }) => heard.push(data?.t)
    }, key)
    const heard = () => one.evaluate(() => (window as unknown as { heard: string[] }).heard)
    await one.evaluate((k) => window.harness.start({ persistenceKey: k, tab: 'one' }), key)
    const first = await emitMany(one, messages(['a', 'b'], 10, 'one'), 0)
    await allApplied(server, first)
    await waitFor(async () => (await state(one)).pending.length === 0, 'the first items to settle')
    // (A 'sync' may come from start-up, which ends before the lock is granted.)
    const settlements = async () => (await heard()).filter((t) => t === 'news' || t === 'delta')
    expect(await settlements(), 'a lone sender posts no settlements').toEqual([])

    // The second tab opens while a batch is in flight and more are queued; then everything is acked.
    server.mode = 'hold'
    const second = await emitMany(one, messages(['a', 'b'], 20, 'one'), 0)
    await server.until(() => server.held.length > 0, 10_000, 'a send in flight')
    const two = await openPage(context, server)
    const starting = two.evaluate((k) => window.harness.start({ persistenceKey: k, tab: 'two' }), key)
    server.mode = 'apply'
    server.release()
    await starting
    await allApplied(server, second)
    await waitFor(async () => {
      const [a, b] = await Promise.all([state(one), state(two)])
      return a.pending.length === 0 && b.pending.length === 0 && a.failed.length === 0 && b.failed.length === 0
    }, 'both tabs’ pending to empty')
    expect(await settlements(), 'it posts again once another tab is open').not.toEqual([])
    expectDelivered(server, [first, second])
    expect(new Set(server.requests.map((r) => r.tab))).toEqual(new Set(['one']))
    expect([...(await errors(one)), ...(await errors(two))]).toEqual([])
  })
})
