/**
 * The chaos harness: an idempotent server behind a fault-injecting proxy, many Node clients on
 * flapping networks, and Chromium tabs that reload, close and crash, all emitting at once. When the
 * faults stop it checks that every durable item was applied exactly once, each lane in emit order,
 * that the queues drained in time, and that the failed lists hold exactly the hard rejections.
 *
 *   pnpm chaos                      full profile (about 2½ minutes)
 *   tsx run.ts --profile ci         the CI profile (under a minute)
 *   options: --seed N  --duration S  --no-browser  --no-beacons  --out DIR
 *            --no-body-stalls   leave out answers that stall mid-body
 *
 * Exits 1 when an invariant fails.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bundlePage, type ChaosBrowser, startBrowser } from './lib/browser.ts'
import { createLedger } from './lib/ledger.ts'
import { startNodeClients } from './lib/node-clients.ts'
import { type FaultRates, startProxy } from './lib/proxy.ts'
import { random, sleep, waitFor } from './lib/random.ts'
import { formatMarkdown, formatText, type Summary } from './lib/report.ts'
import { startServer } from './lib/server.ts'
import { verify } from './lib/verify.ts'

type Profile = {
  name: string
  /** Seconds of emitting under faults. */
  durationS: number
  nodeClients: number
  persistentNodeClients: number
  lanesPerClient: number
  nodePaceMs: number
  browserKeys: number
  tabsPerKey: number
  lanesPerTab: number
  tabPaceMs: number
  reloadRate: number
  closeRate: number
  crashRate: number
  drainBoundMs: number
  /** Node clients keep the default breaker options (the other profile uses a short test breaker). */
  defaultBreaker: boolean
}

const PROFILES: Record<string, Profile> = {
  full: {
    name: 'full',
    durationS: 120,
    nodeClients: 20,
    persistentNodeClients: 4,
    lanesPerClient: 6,
    nodePaceMs: 700,
    browserKeys: 3,
    tabsPerKey: 3,
    lanesPerTab: 3,
    tabPaceMs: 120,
    reloadRate: 0.07,
    closeRate: 0.03,
    crashRate: 0.02,
    drainBoundMs: 30_000,
    defaultBreaker: false,
  },
  ci: {
    name: 'ci',
    durationS: 30,
    nodeClients: 10,
    persistentNodeClients: 3,
    lanesPerClient: 4,
    nodePaceMs: 500,
    browserKeys: 2,
    tabsPerKey: 2,
    lanesPerTab: 3,
    tabPaceMs: 100,
    reloadRate: 0.08,
    closeRate: 0.03,
    crashRate: 0.02,
    drainBoundMs: 30_000,
    defaultBreaker: true,
  },
}

/** Share of proxied requests that get each fault (about a third in all). */
const RATES: FaultRates = {
  'drop-before': 0.04,
  'drop-after': 0.04,
  'truncate-after': 0.015,
  'stall-after': 0.01,
  delay: 0.08,
  reorder: 0.04,
  '5xx': 0.04,
  '5xx-after': 0.02,
  '429': 0.03,
  '503': 0.015,
  'html-200': 0.03,
}
const REJECT_RATE = 0.02

function parseArgs(argv: string[]) {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const profile = PROFILES[get('profile') ?? 'full']
  if (!profile) throw new Error(`Unknown profile ${get('profile')}; use ${Object.keys(PROFILES).join(' or ')}.`)
  const duration = get('duration')
  return {
    profile: duration ? { ...profile, durationS: Number(duration) } : profile,
    seed: Number(get('seed') ?? Date.now() % 1_000_000),
    browser: !argv.includes('--no-browser'),
    beacons: !argv.includes('--no-beacons'),
    bodyStalls: !argv.includes('--no-body-stalls'),
    out: get('out') ?? join(dirname(fileURLToPath(import.meta.url)), 'results'),
  }
}

const chromiumPath = () => process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const { profile, seed } = args
  const started = Date.now()
  const processErrors: string[] = []
  process.on('unhandledRejection', (error) => processErrors.push(`unhandledRejection: ${String(error)}`))
  process.on('uncaughtException', (error) => processErrors.push(`uncaughtException: ${String(error)}`))

  const useBrowser = args.browser && existsSync(chromiumPath())
  if (args.browser && !useBrowser) console.warn(`chaos: no Chromium at ${chromiumPath()}; running Node clients only`)
  console.log(`chaos: profile ${profile.name}, seed ${seed}, ${profile.durationS} s of faults`)

  const page = useBrowser ? bundlePage() : Promise.resolve({ html: '', bundle: '' })
  const server = await startServer(random(seed + 1), { slowApplyRate: 0.05, slowApplyMs: 40 })
  const rates: FaultRates = args.bodyStalls ? { ...RATES, 'stall-body': 0.01 } : RATES
  const proxy = await startProxy({ upstream: server.origin, rand: random(seed + 2), rates, page: () => page })
  const ledger = createLedger()
  let running = true

  let browser: ChaosBrowser | undefined
  if (useBrowser) {
    await page
    browser = await startBrowser({
      origin: proxy.origin,
      keys: profile.browserKeys,
      tabsPerKey: profile.tabsPerKey,
      lanesPerTab: profile.lanesPerTab,
      rand: random(seed + 4),
      ledger,
      running: () => running,
      rejectRate: REJECT_RATE,
      paceMs: profile.tabPaceMs,
      reloadRate: profile.reloadRate,
      closeRate: profile.closeRate,
      crashRate: profile.crashRate,
      beacons: args.beacons,
      executablePath: chromiumPath(),
    })
  }

  const nodes = startNodeClients({
    count: profile.nodeClients,
    lanesPerClient: profile.lanesPerClient,
    persistent: profile.persistentNodeClients,
    proxy,
    rand: random(seed + 3),
    ledger,
    running: () => running,
    paceMs: profile.nodePaceMs,
    rejectRate: REJECT_RATE,
    defaultBreaker: profile.defaultBreaker,
  })
  const faultStart = Date.now()
  const progress = setInterval(() => {
    const s = Math.round((Date.now() - faultStart) / 1000)
    console.log(
      `  ${s}s: ${ledger.items.size} emitted, ${server.applications()} applications, ${proxy.requests()} requests, ${nodes.pendingCount()} pending in Node clients`,
    )
    if (process.env.CHAOS_DEBUG)
      for (const c of nodes.clients)
        if (c.outbox.size.peek() > 50) {
          const st = c.outbox.state.peek()
          const statuses: Record<string, number> = {}
          for (const p of st.pending) statuses[p.status] = (statuses[p.status] ?? 0) + 1
          console.log(
            `    ${c.id}: ${st.size} pending ${JSON.stringify(statuses)} breaker ${st.breaker} online ${st.online} paused ${st.paused} head ${JSON.stringify(st.pending[0]).slice(0, 300)}`,
          )
        }
  }, 5_000)
  await sleep(profile.durationS * 1000)
  // The faults stop: every network is up, and (once their loops end) every tab slot has a live page.
  running = false
  proxy.calm()
  nodes.calm()
  const calmAt = Date.now()
  const backlog = nodes.pendingCount()
  clearInterval(progress)
  await nodes.stopped
  await browser?.stopped
  await browser?.reopenAll()
  let nodeDrainMs: number | undefined
  let browserDrainMs: number | undefined
  const drainedInTime = await waitFor(
    async () => {
      if (nodeDrainMs === undefined && nodes.pendingCount() === 0) nodeDrainMs = Date.now() - calmAt
      if (browserDrainMs === undefined && (!browser || (await browser.drained()))) browserDrainMs = Date.now() - calmAt
      return nodeDrainMs !== undefined && browserDrainMs !== undefined
    },
    profile.drainBoundMs,
    50,
  )
  if (!drainedInTime)
    for (const c of nodes.clients)
      for (const p of c.outbox.pending.peek())
        console.log(
          `  still pending in ${c.id}: ${p.emitId} ${p.lane} ${p.status} attempts ${p.attempts} ${JSON.stringify(p.lastError ?? null)} breaker ${c.outbox.breaker.peek()} online ${c.outbox.online.peek()}`,
        )
  if (!drainedInTime && browser && browserDrainMs === undefined)
    for (const line of await browser.diagnoses()) console.log(`  tab ${line}`)
  const drainMs = Math.max(nodeDrainMs ?? Date.now() - calmAt, browserDrainMs ?? Date.now() - calmAt)
  console.log(`drain: Node clients ${nodeDrainMs ?? '-'} ms, browser tabs ${browserDrainMs ?? '-'} ms`)
  // Followers mirror the sender's last settlements: give the tabs of each key a moment to agree.
  const agree = async () => {
    const byKey = new Map<string, Set<string>>()
    for (const { key, state } of (await browser?.states()) ?? []) {
      const ids = state.failed
        .map((f) => f.emitId)
        .sort()
        .join()
      byKey.set(key, (byKey.get(key) ?? new Set()).add(ids))
    }
    return [...byKey.values()].every((set) => set.size === 1)
  }
  if (browser) await waitFor(agree, 5_000, 100)

  const { failedIds, pendingIds } = nodes.settledIds()
  const tabDisagreements: string[] = []
  /** Items some tab still shows pending, or that the tabs of a key disagree on: their trace is printed. */
  const involved = new Set<string>()
  if (browser) {
    const byKey = new Map<string, string[]>()
    for (const { key, slot, state } of await browser.states()) {
      for (const p of state.pending) {
        pendingIds.add(p.emitId)
        involved.add(p.emitId)
      }
      const ids = state.failed.map((f) => f.emitId).sort()
      for (const id of ids) failedIds.add(id)
      const first = byKey.get(key)
      if (!first) byKey.set(key, ids)
      else if (first.join() !== ids.join()) {
        tabDisagreements.push(`${key}/${slot}`)
        for (const id of ids) if (!first.includes(id)) involved.add(id)
        for (const id of first) if (!ids.includes(id)) involved.add(id)
      }
    }
    if (involved.size > 0) {
      const lines = browser.trace(involved)
      console.log(`trace of ${involved.size} items (${lines.length} lines):`)
      for (const line of lines.slice(-80)) console.log(`  ${line}`)
      mkdirSync(args.out, { recursive: true })
      writeFileSync(join(args.out, 'trace.log'), `${browser.trace().join('\n')}\n`)
    }
  }
  const verdict = verify(ledger, server, failedIds, pendingIds)

  await browser?.close()
  await nodes.close()
  await proxy.close()
  await server.close()

  const summary: Summary = {
    profile: profile.name,
    seed,
    date: new Date().toISOString(),
    runSeconds: Math.round((Date.now() - started) / 100) / 10,
    faultSeconds: profile.durationS,
    beacons: args.beacons,
    bodyStalls: args.bodyStalls,
    node: nodes.stats,
    browser: browser?.stats,
    requests: proxy.requests(),
    faults: Object.fromEntries([...proxy.counts].sort(([a], [b]) => a.localeCompare(b))),
    server: {
      applications: server.applications(),
      viaBeacon: server.viaBeacon.size,
      errors: server.errors.slice(0, 20),
    },
    ledgerDeduped: ledger.deduped(),
    verdict,
    drain: {
      ms: drainMs,
      backlog,
      nodeMs: nodeDrainMs,
      browserMs: browserDrainMs,
      boundMs: profile.drainBoundMs,
      inTime: drainedInTime,
    },
    tabDisagreements,
    processErrors,
  }
  const failures = failuresOf(summary)
  summary.failures = failures

  const text = formatText(summary)
  console.log(text)
  mkdirSync(args.out, { recursive: true })
  const md = formatMarkdown(summary)
  for (const name of ['latest', profile.name]) {
    writeFileSync(join(args.out, `${name}.md`), md)
    writeFileSync(join(args.out, `${name}.json`), `${JSON.stringify(summary, null, 2)}\n`)
  }
  process.exit(failures.length === 0 ? 0 : 1)
}

function failuresOf(s: Summary): string[] {
  const v = s.verdict
  const out: string[] = []
  if (v.lost.length > 0) out.push(`${v.lost.length} durable items lost, e.g. ${v.lost.slice(0, 3).join(', ')}`)
  if (v.stuck.length > 0)
    out.push(`${v.stuck.length} durable items never delivered, still pending, e.g. ${v.stuck.slice(0, 3).join(', ')}`)
  if (v.duplicated.length > 0) out.push(`${v.duplicated.length} items applied more than once`)
  if (v.reordered.length > 0) {
    const beacon = v.reordered.filter((r) => r.beacon.emitId || r.beacon.after).length
    out.push(
      `${v.reordered.length} applications out of lane order, e.g. ${v.reordered
        .slice(0, 3)
        .map(
          (r) =>
            `${r.emitId}${r.beacon.emitId ? ' (beacon)' : ''} after ${r.after}${r.beacon.after ? ' (beacon)' : ''} in ${r.lane}`,
        )
        .join('; ')}; ${beacon} of them involve a page-hide beacon`,
    )
  }
  if (v.unknown.length > 0) out.push(`${v.unknown.length} applications of unknown emitIds`)
  if (v.failedMismatch.unexpected.length > 0)
    out.push(`failed lists hold items the server did not reject: ${v.failedMismatch.unexpected.slice(0, 3).join(', ')}`)
  if (v.failedMismatch.missing.length > 0)
    out.push(`rejected items missing from the failed lists: ${v.failedMismatch.missing.slice(0, 3).join(', ')}`)
  if (!s.drain.inTime) out.push(`queues not drained within ${s.drain.boundMs} ms after the faults stopped`)
  if (s.tabDisagreements.length > 0) out.push(`tabs disagree on the failed list: ${s.tabDisagreements.join(', ')}`)
  if (s.processErrors.length > 0) out.push(`Node process errors: ${s.processErrors.slice(0, 3).join('; ')}`)
  if (s.node.thrown.length > 0) out.push(`emit threw unexpectedly: ${s.node.thrown.slice(0, 3).join('; ')}`)
  if (s.browser && s.browser.pageErrors.length > 0)
    out.push(`uncaught errors in pages: ${s.browser.pageErrors.slice(0, 3).join('; ')}`)
  if (v.counts.emitted === 0) out.push('nothing was emitted')
  return out
}

main().catch((error) => {
  console.error(error)
  process.exit(2)
})
