import { describe, expect, it } from 'vitest'
import {
  allApplied,
  emitMany,
  errors,
  expectDelivered,
  launchPersistent,
  messages,
  openPage,
  pendingIds,
  reload,
  servePageOffline,
  start,
  state,
  storedKeys,
  uniqueKey,
  useBrowser,
  useProfileDir,
  useServer,
  waitFor,
} from './helpers.ts'

describe('persistence in a real browser', () => {
  it.each([
    { batch: false, name: 'single requests' },
    { batch: true, name: 'batches' },
  ])(
    '(a) emits made offline survive a reload and are delivered once, in lane order, when back online ($name)',
    async ({ batch }) => {
      const server = await useServer()
      const context = await (await useBrowser()).newContext()
      const key = uniqueKey('offline')
      const page = await openPage(context, server)
      await start(page, { persistenceKey: key, batch })

      await context.setOffline(true)
      await waitFor(async () => !(await state(page)).online, 'the outbox to see the browser offline')
      const emitted = await emitMany(page, messages(['a', 'b', 'c'], 3))
      const ids = emitted.map((e) => e.emitId)
      await waitFor(async () => {
        const stored = await storedKeys(page, key)
        return ids.every((id) => stored.includes(id))
      }, 'every item to be stored in IndexedDB')

      // Still offline: the page itself comes from the test process. The old document is paused
      // first: while Playwright navigates, its emulated offline state lapses for a moment (1 run in
      // 20 here, the old page saw `online` and, as it hid, its keepalive sends reached the server;
      // a paused outbox makes none); a device that is really offline has no such moment. The new
      // document is not paused.
      await page.evaluate(() => window.harness.pause())
      await servePageOffline(context, server)
      await reload(page)
      // Chromium can apply the emulated offline state to a reloaded document a moment after its
      // scripts run (navigator.onLine still true); a real offline device reports it from the start.
      await page.waitForFunction(() => navigator.onLine === false)
      await start(page, { persistenceKey: key, batch })
      const loaded = await state(page)
      expect(loaded.online).toBe(false)
      expect(
        loaded.pending.map((i) => i.emitId),
        'after the reload, pending = the stored items in emit order',
      ).toEqual(ids)
      // Chromium's emulated offline state does not reach the deferred request (fetchLater) the page
      // left armed as it went away to reload: it may arrive (on a device that is really offline it
      // fails). Nothing else may, and its items stay stored until this session sees their acks.
      const deferred = (r: (typeof server.requests)[number]) => r.batch && r.emitIds.join() === ids.join()
      expect(
        server.requests
          .filter((r) => !deferred(r))
          .map(
            (r) =>
              `${r.n}: ${r.batch ? 'batch ' : ''}${r.emitIds.join(',')} (tab ${r.tab}; ${ids.map((id) => id.slice(-4)).join(',')})`,
          ),
        'nothing reached the server while offline but the deferred request',
      ).toEqual([])

      await context.setOffline(false)
      await allApplied(server, emitted)
      await waitFor(async () => (await pendingIds(page)).length === 0, 'pending to empty')
      expectDelivered(server, [emitted])
      await waitFor(async () => (await storedKeys(page, key)).length === 0, 'acked items to be deleted from IndexedDB')
      expect(await errors(page)).toEqual([])
    },
  )

  it('(b) items pending when the browser closes are delivered after it is relaunched on the same profile', async () => {
    const server = await useServer()
    const dir = await useProfileDir()
    const key = uniqueKey('restart')

    let context = await launchPersistent(dir)
    let page = await openPage(context, server)
    server.mode = 'hold' // every send stays in flight, unapplied
    await start(page, { persistenceKey: key, batch: true })
    const emitted = await emitMany(page, messages(['a', 'b', 'c'], 3))
    const ids = emitted.map((e) => e.emitId)
    await server.until(() => server.held.length > 0, 10_000, 'a send in flight')
    await waitFor(async () => {
      const stored = await storedKeys(page, key)
      return ids.every((id) => stored.includes(id))
    }, 'every item to be stored in IndexedDB')
    await context.close()

    // The sends held when the browser went away are applied now; the client never saw their acks.
    server.mode = 'apply'
    server.release()
    const appliedWhileClosed = [...server.applied.keys()]
    expect(appliedWhileClosed.length, 'sends were in flight when the browser closed').toBeGreaterThan(0)

    context = await launchPersistent(dir)
    page = await openPage(context, server)
    await start(page, { persistenceKey: key, batch: true })
    await allApplied(server, emitted)
    await waitFor(async () => (await pendingIds(page)).length === 0, 'pending to empty after the relaunch')
    expectDelivered(server, [emitted])
    for (const id of appliedWhileClosed)
      expect(server.received.get(id), `${id} was sent again after the relaunch`).toBeGreaterThanOrEqual(2)
    await waitFor(async () => (await storedKeys(page, key)).length === 0, 'acked items to be deleted from IndexedDB')
    expect(await errors(page)).toEqual([])
  })

  it.each([
    {
      name: 'IndexedDB missing',
      init: () => {
        // biome-ignore lint/suspicious/noExplicitAny: removing a global the DOM types declare
        delete (window as any).indexedDB
        if (typeof window.indexedDB !== 'undefined')
          Object.defineProperty(window, 'indexedDB', { value: undefined, configurable: true })
      },
    },
    {
      name: 'IndexedDB refusing to open',
      init: () => {
        IDBFactory.prototype.open = () => {
          throw new DOMException('The user denied permission to access the database.', 'SecurityError')
        }
      },
    },
    {
      name: 'IndexedDB over quota',
      init: () => {
        const quota = () => {
          throw new DOMException('The quota has been exceeded.', 'QuotaExceededError')
        }
        IDBObjectStore.prototype.put = quota
        IDBObjectStore.prototype.add = quota
      },
    },
  ])('(e) with $name the outbox reports a storage error and still delivers everything', async ({ init }) => {
    const server = await useServer()
    const context = await (await useBrowser()).newContext()
    await context.addInitScript(init)
    const key = uniqueKey('storage')
    const page = await openPage(context, server)
    server.script('fail', 'fail', 'drop') // the first sends fail: items must wait in memory and retry
    await start(page, { persistenceKey: key })
    const emitted = await emitMany(page, messages(['a', 'b'], 4))
    await allApplied(server, emitted)
    await waitFor(async () => (await pendingIds(page)).length === 0, 'pending to empty')
    expectDelivered(server, [emitted])
    const reported = await errors(page)
    expect(
      reported.filter((e) => e.kind === 'storage'),
      'a storage error reported with outbox:error',
    ).not.toEqual([])
    expect((await state(page)).failed).toEqual([])
  })

  it('(f) a corrupted stored record is skipped and reported; the valid ones are delivered', async () => {
    const server = await useServer()
    const context = await (await useBrowser()).newContext()
    const key = uniqueKey('corrupt')
    const page = await openPage(context, server)
    await start(page, { persistenceKey: key })
    await context.setOffline(true)
    await waitFor(async () => !(await state(page)).online, 'the outbox to see the browser offline')
    const emitted = await emitMany(page, messages(['a', 'b'], 3))
    await page.evaluate(() => window.harness.close()) // waits for the writes in progress
    const stored = await storedKeys(page, key)
    expect(stored).toEqual(emitted.map((e) => e.emitId))

    // A real record with a broken item, under a ULID key that sorts first; and plain garbage.
    const bogusUlid = '01ARZ3NDEKTSV4RRFFQ69G5FAV'
    await page.evaluate(
      async ([k, first, bogus]) => {
        const record = (await window.harness.idb.get(k, first)) as Record<string, unknown>
        const item = record.item as Record<string, unknown>
        await window.harness.idb.put(k, bogus, {
          ...record,
          item: { ...item, emitId: bogus, payload: 'not an object' },
        })
        await window.harness.idb.put(k, '01ARZ3NDEKTSV4RRFFQ69G5FAW', 'garbage')
        await window.harness.idb.put(k, 'not-a-ulid', { v: 1, item: null })
      },
      [key, emitted[0]?.emitId ?? '', bogusUlid] as const,
    )

    await context.setOffline(false)
    await reload(page)
    server.mode = 'hold' // so the loaded queue can be read before it drains
    await start(page, { persistenceKey: key })
    expect(
      (await state(page)).pending.map((i) => i.emitId),
      'only the valid records load',
    ).toEqual(emitted.map((e) => e.emitId))
    server.mode = 'apply'
    server.release()
    await allApplied(server, emitted)
    await waitFor(async () => (await pendingIds(page)).length === 0, 'pending to empty')
    expectDelivered(server, [emitted])
    expect(server.received.has(bogusUlid), 'the broken record was never sent').toBe(false)
    const reported = (await errors(page)).filter((e) => e.kind === 'storage')
    expect(reported.length, `one storage error per skipped record: ${JSON.stringify(reported)}`).toBeGreaterThanOrEqual(
      3,
    )
    expect(await page.evaluate(() => window.harness.pageErrors())).toEqual([])
  })
})
