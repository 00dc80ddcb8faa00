import { join } from 'node:path'
import type { BrowserContext, Page, Worker } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { buildExtension, type ExtensionBuildOptions } from '../../../examples/extension/build.ts'
import type { Outbox } from '../src/types.ts'
import { allApplied, expectDelivered, launchPersistent, useProfileDir, useServer, waitFor } from './helpers.ts'
import type { Emitted } from './page.ts'
import { CORE_FROM, type E2EServer } from './server.ts'

/** The example extension (examples/extension), built for `server` and loaded unpacked in a fresh profile. */
async function launchExtension(server: E2EServer, options: ExtensionBuildOptions = {}) {
  const dir = await buildExtension(join(await useProfileDir(), 'extension'), {
    endpoint: `${server.origin}/events`,
    core: CORE_FROM,
    ...options,
  })
  const context = await launchPersistent(await useProfileDir(), [
    `--disable-extensions-except=${dir}`,
    `--load-extension=${dir}`,
  ])
  const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'))
  const origin = `chrome-extension://${new URL(worker.url()).host}` // Node gives such URLs a null origin
  return { context, worker, origin, control: await workerControl(context, worker.url()) }
}

/**
 * The worker's life as the DevTools protocol reports it, and a way to stop it, as Chrome does
 * after 30 s idle. (playwright-core does not see an extension worker stop or start again, so the
 * test watches `ServiceWorker.workerVersionUpdated` and never evaluates in a stopped worker.)
 */
async function workerControl(context: BrowserContext, scriptURL: string) {
  const page = await context.newPage()
  const session = await context.newCDPSession(page)
  const statuses: string[] = []
  let versionId: string | undefined
  session.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
    for (const version of versions)
      if (version.scriptURL === scriptURL) {
        versionId = version.versionId
        if (statuses.at(-1) !== version.runningStatus) statuses.push(version.runningStatus)
      }
  })
  await session.send('ServiceWorker.enable')
  await waitFor(() => versionId, 'the DevTools protocol to report the extension worker')
  return {
    /** Each running status in turn: `running`, `stopping`, `stopped`, `starting`, … */
    statuses,
    async stop() {
      await session.send('ServiceWorker.stopWorker', { versionId: versionId as string })
      await waitFor(() => statuses.at(-1) === 'stopped', 'the extension worker to stop')
    },
  }
}

/** Visits a page of the test server, where the example's content script records the visit. */
async function visit(context: BrowserContext, server: E2EServer): Promise<void> {
  const before = server.requests.length
  const page = await context.newPage()
  await page.goto(server.url)
  await server.until(() => server.requests.length > before, 10_000, 'the worker to try to send the visit')
  await page.close()
}

/** Adds a note through the popup's form (the popup page, opened as a tab) and returns its emitId. */
async function addNote(popup: Page, list: string, text: string): Promise<string> {
  const count = await popup.locator('#queued li').count()
  await popup.selectOption('#list', list)
  await popup.fill('#text', text)
  await popup.click('#add')
  const item = popup.locator('#queued li').nth(count)
  await item.waitFor()
  expect(await popup.textContent('#status')).toBe('')
  return (await item.getAttribute('data-emit-id')) as string
}

type Global = {
  outbox: Outbox
  chrome: { alarms: { get(name: string): Promise<{ scheduledTime: number } | undefined> } }
}

/** What the worker's outbox holds, in emit order (read while the worker runs). */
const pendingIn = (worker: Worker): Promise<Emitted[]> =>
  worker.evaluate(() =>
    (globalThis as unknown as Global).outbox.pending.value.map(({ emitId, lane, event }) => ({ emitId, lane, event })),
  )

/** The keys stored in the worker's IndexedDB for the example's outbox (`notes`). */
const storedIn = (worker: Worker): Promise<string[]> =>
  worker.evaluate(
    () =>
      new Promise<string[]>((resolve, reject) => {
        const open = indexedDB.open('outbox:notes')
        open.onerror = () => reject(open.error)
        open.onsuccess = () => {
          const db = open.result
          const request = db.transaction('items').objectStore('items').getAllKeys()
          request.onsuccess = () => {
            db.close()
            resolve(request.result.map(String))
          }
          request.onerror = () => reject(request.error)
        }
      }),
  )

/** Emits from both kinds of extension page while the server refuses: 2 visits, 5 notes in 2 lists. */
async function emitWhileRefused(context: BrowserContext, server: E2EServer, worker: Worker, origin: string) {
  server.mode = 'fail'
  await visit(context, server)
  await visit(context, server)
  const popup = await context.newPage()
  await popup.goto(`${origin}/popup.html`)
  const notes: string[] = []
  for (const [list, text] of [
    ['work', 'w1'],
    ['home', 'h1'],
    ['work', 'w2'],
    ['home', 'h2'],
    ['work', 'w3'],
  ] as const)
    notes.push(await addNote(popup, list, text))

  const emitted = await pendingIn(worker)
  expect(emitted.map((e) => e.lane)).toEqual(['visits', 'visits', 'work', 'home', 'work', 'home', 'work'])
  expect(emitted.filter((e) => e.event === 'note:add').map((e) => e.emitId)).toEqual(notes)
  const ids = emitted.map((e) => e.emitId)
  await waitFor(async () => {
    const stored = await storedIn(worker)
    return ids.every((id) => stored.includes(id))
  }, 'every item to be stored in the worker IndexedDB')
  expect([...server.applied.keys()], 'nothing applied while the server refuses').toEqual([])
  return { emitted, popup }
}

describe('(c) the example extension, loaded unpacked', () => {
  it('delivers what a content script and the popup emitted once, in lane order, when an alarm wakes the stopped worker', async () => {
    const server = await useServer()
    // Short waits: the first backoff (3 s) already rides an alarm, which an unpacked extension may set under 30 s.
    const { context, worker, origin, control } = await launchExtension(server, { shortWaits: true })
    const { emitted, popup } = await emitWhileRefused(context, server, worker, origin)
    const alarm = await worker.evaluate(() => (globalThis as unknown as Global).chrome.alarms.get('outbox:notes'))
    expect(alarm?.scheduledTime, 'the backoff set an alarm').toBeGreaterThan(0)

    await control.stop()
    const stoppedAt = control.statuses.length
    server.mode = 'apply'
    // Nothing emits from now on: only the alarm can start the worker again.
    await allApplied(server, emitted, 30_000)
    expect(control.statuses.slice(stoppedAt), 'the worker started again').toContain('running')
    expectDelivered(server, [emitted])
    expect(await popup.locator('#queued li').count()).toBe(5)
  })

  it('delivers everything stored, once, when a new event starts the stopped worker', async () => {
    const server = await useServer()
    // Default timings: backoff waits stay under 20 s, so no alarm is set before the worker stops.
    const { context, worker, origin, control } = await launchExtension(server)
    const { emitted, popup } = await emitWhileRefused(context, server, worker, origin)

    await control.stop()
    server.mode = 'apply'
    const last = await addNote(popup, 'home', 'h3') // the relayed message starts the worker
    const all = [...emitted, { emitId: last, lane: 'home', event: 'note:add' }]
    await allApplied(server, all)
    expect(control.statuses.at(-1)).toBe('running')
    expectDelivered(server, [all])
  })
})
