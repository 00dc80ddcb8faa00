import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import type { Ledger } from './ledger.ts'
import { type Random, sleep, waitFor } from './random.ts'

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
]

/** The page script with `@outbox/core` from source, as one ES module. */
export async function bundlePage(): Promise<{ html: string; bundle: string }> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('../page.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    conditions: ['source'],
    write: false,
    logLevel: 'silent',
  })
  const bundle = result.outputFiles[0]?.text
  if (!bundle) throw new Error('esbuild produced no bundle for chaos/page.ts')
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>outbox chaos</title></head>
<body><p>outbox chaos tab</p><script type="module" src="/bundle.js"></script></body></html>`
  return { html, bundle }
}

type TabState = {
  key: string
  slot: number
  lanes: string[]
  page: Page | undefined
  /** Pages this slot has had (a reload counts as a new one), for the trace. */
  incarnation: number
  /** Emitted on the current page and not yet confirmed stored. */
  unconfirmed: string[]
}

export type BrowserStats = {
  keys: number
  tabs: number
  steps: number
  reloads: number
  closes: number
  crashes: number
  offlineFlaps: number
  pageErrors: string[]
  storageErrors: string[]
  unconfirmed: number
  driverErrors: string[]
}

export type BrowserOptions = {
  origin: string
  keys: number
  tabsPerKey: number
  lanesPerTab: number
  rand: Random
  ledger: Ledger
  running: () => boolean
  rejectRate: number
  paceMs: number
  /** Per tab step. */
  reloadRate: number
  closeRate: number
  crashRate: number
  beacons: boolean
  executablePath: string
}

/**
 * Chromium tabs (one context, so one origin and one IndexedDB), several per persistence key, each
 * emitting into its own lanes while it is reloaded, closed, or crashed at random and the context
 * goes offline now and then. A closed tab's items are delivered by the others on its key, or by the
 * tab that reopens.
 */
export async function startBrowser(options: BrowserOptions) {
  const { rand, ledger } = options
  const stats: BrowserStats = {
    keys: options.keys,
    tabs: options.keys * options.tabsPerKey,
    steps: 0,
    reloads: 0,
    closes: 0,
    crashes: 0,
    offlineFlaps: 0,
    pageErrors: [],
    storageErrors: [],
    unconfirmed: 0,
    driverErrors: [],
  }
  const browser: Browser = await chromium.launch({ executablePath: options.executablePath, args: CHROMIUM_ARGS })
  browser.on('disconnected', () => {
    if (options.running()) stats.driverErrors.push('the browser disconnected')
  })
  const context: BrowserContext = await browser.newContext()
  let offline = false
  let seq = 0

  const tabs: TabState[] = []
  for (let k = 0; k < options.keys; k++)
    for (let s = 0; s < options.tabsPerKey; s++)
      tabs.push({
        key: `chaos-k${k}`,
        slot: s,
        lanes: Array.from({ length: options.lanesPerTab }, (_, l) => `chaos-k${k}.t${s}.l${l}`),
        page: undefined,
        incarnation: 0,
        unconfirmed: [],
      })

  const url = (tab: TabState) =>
    `${options.origin}/?key=${tab.key}&slot=${tab.slot}&batch=${tab.slot % 2}&beacons=${options.beacons ? 1 : 0}`

  /** Every page's trace (see page.ts), in the order the harness heard it. */
  const traces: string[] = []
  const started = Date.now()
  const listen = (page: Page, tab: TabState) =>
    page.on('console', (message) => {
      const text = message.text()
      if (!text.startsWith('chaostrace ')) return
      if (text.startsWith('chaostrace start')) tab.incarnation++
      traces.push(
        `${((Date.now() - started) / 1000).toFixed(3)} ${tab.key}#${tab.slot}.${tab.incarnation} ${text.slice(11)}`,
      )
    })

  const whenOnline = () => waitFor(() => !offline, 30_000, 20)

  const waitReady = async (page: Page) => {
    await page.waitForFunction(() => window.chaos?.isReady() === true, undefined, { timeout: 20_000 })
  }

  /** Collects what a page reported before it goes away. */
  const harvest = async (tab: TabState) => {
    const page = tab.page
    if (!page || page.isClosed()) return
    try {
      const [errs, pageErrs] = await page.evaluate(() => [
        window.chaos.errors().map((e) => `${e.kind}: ${e.message}`),
        window.chaos.pageErrors(),
      ])
      stats.storageErrors.push(...errs)
      stats.pageErrors.push(...pageErrs)
    } catch {
      // The page is gone (crashed); nothing to collect.
    }
  }

  const openTab = async (tab: TabState) => {
    for (let attempt = 0; ; attempt++) {
      await whenOnline()
      const page = await context.newPage()
      page.on('pageerror', (error) => stats.pageErrors.push(`${tab.key}/${tab.slot}: ${error.message}`))
      listen(page, tab)
      try {
        await page.goto(url(tab), { waitUntil: 'load' })
        await waitReady(page)
        tab.page = page
        return
      } catch (error) {
        await page.close().catch(() => {})
        if (attempt >= 5) throw error
        await sleep(100)
      }
    }
  }

  const confirmPending = async (tab: TabState) => {
    if (!tab.page || tab.unconfirmed.length === 0) return
    const ids = tab.unconfirmed
    const confirmed = await tab.page.evaluate((list) => window.chaos.confirm(list), ids)
    for (const id of confirmed) ledger.confirm(id)
    const left = new Set(ids)
    for (const id of confirmed) left.delete(id)
    tab.unconfirmed = [...left]
  }

  /** The page goes away without its unconfirmed emits being known as stored. */
  const forgetUnconfirmed = (tab: TabState) => {
    stats.unconfirmed += tab.unconfirmed.length
    tab.unconfirmed = []
  }

  const step = async (tab: TabState) => {
    stats.steps++
    if (!tab.page) {
      await openTab(tab)
      return
    }
    const page = tab.page
    const x = rand()
    if (x < options.reloadRate) {
      await whenOnline()
      await harvest(tab)
      forgetUnconfirmed(tab)
      stats.reloads++
      try {
        await page.reload({ waitUntil: 'load' })
        await waitReady(page)
      } catch {
        // Offline came in the middle: start over in a fresh page.
        await page.close().catch(() => {})
        tab.page = undefined
        await openTab(tab)
      }
    } else if (x < options.reloadRate + options.closeRate) {
      await harvest(tab)
      forgetUnconfirmed(tab)
      stats.closes++
      await page.close()
      tab.page = undefined
      await sleep(rand.int(100, 1500))
    } else if (x < options.reloadRate + options.closeRate + options.crashRate) {
      // A renderer crash: no pagehide, no unload, no chance to finish a write.
      await harvest(tab)
      forgetUnconfirmed(tab)
      stats.crashes++
      const crashed = new Promise<void>((resolve) => page.once('crash', () => resolve()))
      const cdp = await context.newCDPSession(page)
      // The command never answers (its renderer is gone): wait for the crash event instead.
      void cdp.send('Page.crash').catch(() => {})
      await Promise.race([crashed, sleep(5000)])
      await page.close().catch(() => {})
      tab.page = undefined
      await sleep(rand.int(100, 1000))
    } else {
      const list = Array.from({ length: rand.int(1, 4) }, () => ({
        lane: rand.pick(tab.lanes),
        seq: ++seq,
        reject: rand.chance(options.rejectRate),
      }))
      const ids = await page.evaluate((l) => window.chaos.emit(l), list)
      ids.forEach((emitId, i) => {
        const item = list[i] as (typeof list)[number]
        ledger.record({
          emitId,
          lane: item.lane,
          owner: tab.key,
          source: 'browser',
          durable: true,
          reject: item.reject,
          confirmed: false,
        })
      })
      tab.unconfirmed.push(...ids)
      // Mostly confirm at once; sometimes leave them unconfirmed, so a reload may catch them mid-write.
      if (rand.chance(0.8)) await confirmPending(tab)
    }
  }

  const loop = async (tab: TabState) => {
    while (options.running()) {
      try {
        await step(tab)
      } catch (error) {
        stats.driverErrors.push(`${tab.key}/${tab.slot}: ${String(error).split('\n')[0]}`)
        if (tab.page?.isClosed()) tab.page = undefined
      }
      await sleep(rand.int(1, options.paceMs * 2))
    }
  }

  /** A page crashing at the same moment can fail the call; it applies to the others, so try again. */
  const setOffline = async (value: boolean) => {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        return await context.setOffline(value)
      } catch (error) {
        stats.driverErrors.push(`setOffline(${value}): ${String(error).split('\n')[0]}`)
        await sleep(50)
      }
    }
  }

  const flapNetwork = async () => {
    while (options.running()) {
      await sleep(rand.int(3000, 8000))
      if (!options.running()) break
      stats.offlineFlaps++
      offline = true
      await setOffline(true)
      await sleep(rand.int(200, 1200))
      await setOffline(false)
      offline = false
    }
  }

  for (const tab of tabs) await openTab(tab)
  const stopped = Promise.all([...tabs.map(loop), flapNetwork()])

  return {
    stats,
    tabs,
    stopped,
    /** Every slot gets a live page again, and what is unconfirmed gets a last chance. */
    async reopenAll() {
      await setOffline(false)
      offline = false
      for (const tab of tabs) {
        if (!tab.page || tab.page.isClosed()) {
          tab.page = undefined
          await openTab(tab)
        }
        await confirmPending(tab).catch(() => {})
        forgetUnconfirmed(tab)
      }
    },
    /** True once every tab shows an empty queue and no key has a pending record stored. */
    async drained(): Promise<boolean> {
      for (const tab of tabs) {
        if (!tab.page) return false
        const [size, stored] = await tab.page.evaluate(async () => [
          window.chaos.state().size,
          await window.chaos.storedPending(),
        ])
        if (size > 0 || stored > 0) return false
      }
      return true
    },
    async states() {
      const out: Array<{ key: string; slot: number; state: ReturnType<Window['chaos']['state']> }> = []
      for (const tab of tabs)
        if (tab.page)
          out.push({ key: tab.key, slot: tab.slot, state: await tab.page.evaluate(() => window.chaos.state()) })
      return out
    },
    async diagnoses() {
      const out: string[] = []
      for (const tab of tabs)
        if (tab.page)
          out.push(`${tab.key}#${tab.slot}: ${JSON.stringify(await tab.page.evaluate(() => window.chaos.diagnose()))}`)
      return out
    },
    /** The trace lines that mention any of `ids` (all of them without). */
    trace(ids?: ReadonlySet<string>): string[] {
      if (!ids) return traces.slice()
      return traces.filter((line) => [...ids].some((id) => line.includes(id)))
    },
    async close() {
      for (const tab of tabs) await harvest(tab)
      await context.close().catch(() => {})
      await browser.close().catch(() => {})
    },
  }
}

export type ChaosBrowser = Awaited<ReturnType<typeof startBrowser>>
