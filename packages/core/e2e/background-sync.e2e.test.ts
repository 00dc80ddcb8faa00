import { describe, expect, it } from 'vitest'
import { watchRegistrations } from '../../../scripts/service-worker-cdp.ts'
import {
  allApplied,
  emitMany,
  expectDelivered,
  messages,
  openPage,
  pendingIds,
  start,
  storedKeys,
  uniqueKey,
  useBrowser,
  useServer,
  waitFor,
} from './helpers.ts'
import type { Emitted } from './page.ts'

describe('service worker', () => {
  it('(a) a sync event drains what a closed page left undelivered, in lane order, with no page open', async () => {
    const server = await useServer()
    const context = await (await useBrowser()).newContext()
    const key = uniqueKey('sync')
    const page = await openPage(context, server)
    await page.evaluate(() => window.harness.registerWorker())
    await server.stop()
    // A long backoff: after its first failure each lane waits, and the page's timers never deliver.
    await start(page, { persistenceKey: key, backgroundSync: true, retry: { baseMs: 60_000, maxMs: 60_000 } })
    const emitted = await emitMany(page, messages(['a', 'b'], 4))
    const ids = emitted.map((e) => e.emitId)
    await waitFor(async () => {
      const stored = await storedKeys(page, key)
      return ids.every((id) => stored.includes(id))
    }, 'every item to be stored')
    await waitFor(
      async () => (await page.evaluate(() => window.harness.syncRegistrations())).includes(`outbox:${key}`),
      'the page to register its sync tag',
    )
    await page.close({ runBeforeUnload: true })

    // Only a blank page is open, to speak the DevTools protocol; none of the app's origin.
    const driver = await context.newPage()
    const cdp = await context.newCDPSession(driver)
    const registrations = await watchRegistrations(cdp)
    const registration = await waitFor(() => registrations.get(server.url), 'the worker registration')
    expect(context.pages().map((p) => p.url())).toEqual(['about:blank'])
    await server.restart()
    const since = server.requests.length
    await cdp.send('ServiceWorker.dispatchSyncEvent', {
      origin: server.origin,
      registrationId: registration.registrationId,
      tag: `outbox:${key}`,
      lastChance: false,
    })
    await allApplied(server, emitted)
    expectDelivered(server, [emitted])
    expect(
      server.requests.slice(since).map((r) => r.tab),
      'every request after the server came back is the sync handler',
    ).toEqual(server.requests.slice(since).map(() => 'sw-sync'))
  })

  it('(b) a page and a service worker on one key never have requests in flight at once', async () => {
    const server = await useServer()
    server.delayMs = 20
    const context = await (await useBrowser()).newContext()
    const key = uniqueKey('shared')
    const page = await openPage(context, server)
    await page.evaluate(() => window.harness.registerWorker())
    const worker = (message: unknown) => page.evaluate((m) => window.harness.worker(m), message)

    // The page leads; the worker's outbox follows and stores its emits for the page to send.
    await start(page, { persistenceKey: key, tab: 'page' })
    await worker({ op: 'start', persistenceKey: key })
    const fromPage = await emitMany(page, messages(['a', 'b'], 10, 'page'))
    const fromWorker = (await worker({ op: 'emit', list: messages(['c', 'd'], 10, 'worker') })) as Emitted[]
    await server.until(() => server.requests.length >= 4, 10_000, 'the page to start sending')
    // The page's outbox closes mid-delivery: the worker takes over the lock and sends the rest. It
    // pauses first and lets its requests finish: a sender that closes with a request in flight
    // abandons it, and the server may still be working on it (its answer to a repeat is 409).
    await page.evaluate(() => window.harness.pause())
    await server.until(() => server.inFlightOf('page') === 0, 10_000, "the page's requests to finish")
    await page.evaluate(() => window.harness.close())
    await server.until(
      () => server.requests.some((r) => r.tab === 'sw'),
      10_000,
      'the worker to send once the page let go',
    )

    // A second page follows the worker; a drain asked for meanwhile waits for the lock.
    const second = await openPage(context, server)
    await start(second, { persistenceKey: key, tab: 'second' })
    const fromSecond = await emitMany(second, messages(['a', 'e'], 5, 'second'))
    const drain = second.evaluate((k) => window.harness.worker({ op: 'drain', persistenceKey: k }), key)
    await worker({ op: 'pause' })
    await server.until(() => server.inFlightOf('sw') === 0, 10_000, "the worker's requests to finish")
    await worker({ op: 'close' })
    await allApplied(server, [...fromPage, ...fromWorker, ...fromSecond], 30_000)
    await waitFor(async () => (await pendingIds(second)).length === 0, 'the second page to settle')
    await second.evaluate(() => window.harness.close())
    const drained = (await drain) as { delivered: number; failed: number; remaining: number }
    expect(drained.remaining).toBe(0)

    expect(server.overlaps, `requests of two clients in flight at once:\n${server.log()}`).toEqual([])
    const tabs = new Set(server.requests.map((r) => r.tab))
    for (const tab of ['page', 'sw', 'second']) expect(tabs, `requests sent by ${tab}`).toContain(tab)
    expectDelivered(server, [fromPage, fromWorker, fromSecond])
  })
})
