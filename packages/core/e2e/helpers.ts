import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterEach, expect } from 'vitest'
import type { Emitted, HarnessState, StartOptions } from './page.ts'
import { type E2EServer, PAGE_HTML, pageBundle, startServer } from './server.ts'

/** Debian's Chromium (see TOOLCHAIN.md); `OUTBOX_E2E_CHROMIUM` points elsewhere. */
export const CHROMIUM = process.env.OUTBOX_E2E_CHROMIUM ?? '/usr/bin/chromium'

export const LAUNCH = {
  executablePath: CHROMIUM,
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
  ],
}

// Everything a test opens is closed after it, last opened first, even when the test failed.
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  const errors: unknown[] = []
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()?.()
    } catch (error) {
      errors.push(error)
    }
  }
  if (errors.length > 0) throw errors[0]
})

export async function useServer(): Promise<E2EServer> {
  await pageBundle() // built once; a build error fails here, not as a blank page
  const server = await startServer()
  cleanups.push(() => server.close())
  return server
}

export async function useBrowser(): Promise<Browser> {
  const browser = await chromium.launch(LAUNCH)
  cleanups.push(() => browser.close())
  return browser
}

/** A fresh profile directory, removed after the test. */
export async function useProfileDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'outbox-e2e-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }))
  return dir
}

/** A browser with a profile on disk (IndexedDB survives a relaunch on the same dir); `args` join LAUNCH's. */
export async function launchPersistent(dir: string, args: string[] = []): Promise<BrowserContext> {
  const context = await chromium.launchPersistentContext(dir, { ...LAUNCH, args: [...LAUNCH.args, ...args] })
  cleanups.push(() => context.close())
  return context
}

/** A new tab on the test page, with `window.harness` loaded. */
export async function openPage(context: BrowserContext, server: E2EServer): Promise<Page> {
  const page = await context.newPage()
  await page.goto(server.url)
  await page.waitForFunction(() => typeof window.harness === 'object')
  return page
}

/** The page and its script come from the test process, so a context can (re)load them offline. */
export async function servePageOffline(context: BrowserContext, server: E2EServer): Promise<void> {
  const js = await pageBundle()
  await context.route(server.url, (route) => route.fulfill({ body: PAGE_HTML, contentType: 'text/html' }))
  await context.route(`${server.origin}/bundle.js`, (route) =>
    route.fulfill({ body: js, contentType: 'text/javascript' }),
  )
}

export async function reload(page: Page): Promise<void> {
  await page.reload()
  await page.waitForFunction(() => typeof window.harness === 'object')
}

export const start = (page: Page, options: StartOptions) => page.evaluate((o) => window.harness.start(o), options)
export const state = (page: Page): Promise<HarnessState> => page.evaluate(() => window.harness.state())
export const errors = (page: Page) => page.evaluate(() => window.harness.errors())
export const storedKeys = (page: Page, persistenceKey: string) =>
  page.evaluate((k) => window.harness.idb.keys(k), persistenceKey)
export const pendingIds = async (page: Page) => (await state(page)).pending.map((i) => i.emitId)

export type Emit = { event: string; payload: Record<string, unknown> }

/** `count` messages per lane, interleaved across lanes: a1 b1 a2 b2 … (lane = payload.chatId). */
export function messages(lanes: string[], count: number, from = 'tab'): Emit[] {
  const out: Emit[] = []
  for (let i = 1; i <= count; i++)
    for (const chatId of lanes) out.push({ event: 'user:message', payload: { chatId, text: `${from} ${chatId}${i}` } })
  return out
}

/** Emits `list` in one page; with `gapMs` they are spread over macrotasks (0 = one per task). */
export const emitMany = (page: Page, list: Emit[], gapMs?: number): Promise<Emitted[]> =>
  page.evaluate(([l, g]) => window.harness.emitMany(l, g), [list, gapMs] as const)

type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>

/**
 * Polls `check` until it returns something truthy (which is returned) or `timeoutMs` passes.
 * Polling real state: no fixed sleeps decide a test.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  { timeoutMs = 15_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value) return value as Truthy<T>
      last = value
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? `${last.name}: ${last.message}` : JSON.stringify(last)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail?.slice(0, 2000)})`)
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

/** Waits until the server applied every emitted item (or a request went wrong on the wire). */
export const allApplied = (server: E2EServer, emitted: Emitted[], timeoutMs = 15_000) =>
  server.until(
    () => emitted.every((e) => server.applied.has(e.emitId)) || server.protocolErrors.length > 0,
    timeoutMs,
    `the server to apply all ${emitted.length} items (applied so far: ${server.applied.size})`,
  )

/**
 * The server applied each emitted item exactly once and nothing else; within each lane, each
 * source's (tab's) items in the order that source emitted them; and every request was well-formed.
 */
export function expectDelivered(server: E2EServer, sources: Emitted[][]): void {
  const all = sources.flat()
  expect(server.protocolErrors, 'wire-format violations').toEqual([])
  expect([...server.applied.keys()].sort(), 'applied items = emitted items').toEqual(all.map((e) => e.emitId).sort())
  for (const [emitId, times] of server.applied) expect(times, `times ${emitId} was applied`).toBe(1)
  for (const source of sources) {
    const lanes = new Set(source.map((e) => e.lane))
    for (const lane of lanes) {
      const mine = new Set(source.filter((e) => e.lane === lane).map((e) => e.emitId))
      const order = (server.laneLog.get(lane) ?? []).filter((id) => mine.has(id))
      const ids = (list: string[]) => list.map((id) => id.slice(-6)).join(' ')
      const wanted = source.filter((e) => e.lane === lane).map((e) => e.emitId)
      expect(
        order,
        `order applied in lane ${lane}: [${ids(order)}], emitted [${ids(wanted)}]; requests:\n${server.log()}\n`,
      ).toEqual(source.filter((e) => e.lane === lane).map((e) => e.emitId))
    }
  }
}

export const uniqueKey = (name: string) => `e2e-${name}-${Math.random().toString(36).slice(2, 8)}`
