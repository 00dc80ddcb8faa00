/**
 * `pnpm bench`: runs the whole suite and writes results/latest.{md,json} and the table in README.md.
 *
 * Browser figures run in real Chromium (playwright-core, a disk-backed persistent profile in a
 * temp dir) against a page and an @outbox/server on 127.0.0.1; Node figures run in child
 * processes (memory mode) against the same server. Each repetition runs every figure once, in
 * the same order, so every ratio compares two measurements taken moments apart.
 *
 * Options (env): BENCH_REPS (default 5), BENCH_QUICK=1 (2 reps, smaller n; for development),
 * BENCH_SOURCE=1 (bundle @outbox/core from src instead of dist), CHROMIUM_PATH,
 * BENCH_ONLY=faults (only section 8, goodput under faults; prints its table, writes results/faults.{md,json}).
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import type { Bench } from './browser/suite.ts'
import { type Bundle, bundleBrowserSuite, moduleName } from './lib/bundle.ts'
import { child } from './lib/child.ts'
import { startFaultServer } from './lib/fault-server.ts'
import { byModule, type CpuProfile, inclusive, type ProfileRow, topFunctions } from './lib/profile.ts'
import { startServer } from './lib/server.ts'
import { measureSizes, type SizeRow } from './lib/sizes.ts'
import { fmt, type Summary, summarize } from './lib/stats.ts'
import { measureStoreCost, storeSamples } from './lib/store-cost.ts'

const here = fileURLToPath(new URL('.', import.meta.url))
const root = join(here, '..')
const quick = process.env.BENCH_QUICK === '1'
const REPS = Number(process.env.BENCH_REPS ?? (quick ? 2 : 5))
const MEMORY_REPS = Math.min(REPS, 3)
/** Repetitions that also run the delivery gap analysis. */
const DIAG_REPS = Math.min(REPS, 3)
const N = {
  burst: quick ? 2_000 : 10_000,
  burstSmall: quick ? 200 : 1_000,
  trickle: quick ? 1_000 : 5_000,
  whatIf: quick ? 500 : 2_500,
  perItemSet: quick ? 300 : 1_000,
  field: quick ? 100 : 200,
  perRequest: quick ? 100 : 200,
  batch: quick ? 2_000 : 5_000,
  stored: 10_000,
  big: quick ? 20_000 : 100_000,
  memory: quick ? 20_000 : 100_000,
  serverStore: quick ? 20_000 : 100_000,
  redisStore: quick ? 1_000 : 5_000,
}
const BATCH = 50
/** Section 8: repetitions, and rounds per repetition (each an outbox run and a loop run, the order alternating). */
const FAULT_REPS = Math.min(REPS, 3)
const FAULT_ROUNDS = quick ? 1 : 2
const FAULT = { n: quick ? 400 : 1_000, lanes: 20, downN: 200, downMs: quick ? 10_000 : 30_000 }
const STARTUP_KEY = 'bench-startup'
const BIG_DB = 'bench-getall'
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
]

const started = performance.now()
const log = (...args: unknown[]) =>
  console.log(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s]`, ...args)

// ---------------------------------------------------------------------------------------------
// Samples: raw per-repetition numbers, keyed by figure id.

const samples = new Map<string, number[]>()
const extras = new Map<string, unknown[]>()
const add = (id: string, value: number) => {
  const list = samples.get(id) ?? []
  list.push(value)
  samples.set(id, list)
}
const keep = (id: string, value: unknown) => {
  const list = extras.get(id) ?? []
  list.push(value)
  extras.set(id, list)
}

// ---------------------------------------------------------------------------------------------
// Browser

type Call = <K extends keyof Bench>(name: K, ...args: Parameters<Bench[K]>) => Promise<Awaited<ReturnType<Bench[K]>>>

function caller(page: Page): Call {
  const call = async (name: string, ...args: unknown[]): Promise<unknown> => {
    const run = page.evaluate(
      ([n, a]) => (globalThis as unknown as { bench: Record<string, (...x: unknown[]) => unknown> }).bench[n]?.(...a),
      [name, args] as const,
    )
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`bench.${String(name)} timed out after 180 s`)), 180_000)
    })
    try {
      return await Promise.race([run, timeout])
    } finally {
      clearTimeout(timer)
    }
  }
  return call as Call
}

async function freshPage(page: Page, url: string): Promise<Call> {
  await page.goto(url)
  const call = caller(page)
  await call('cleanDatabases', [BIG_DB, `outbox:${STARTUP_KEY}`])
  return call
}

async function browserRep(page: Page, url: string, rep: number) {
  let call = await freshPage(page, url)
  log(`browser rep ${rep}: persistence`)
  // 1. Persistent emit, each next to the raw figure it is compared with.
  const perItem = await call('rawPerItemSet', N.perItemSet)
  add('raw.perItemSet', perItem.rate)
  const trickle = await call('outboxTrickle', N.trickle, 'none')
  add('outbox.trickle', trickle.rate)
  add('outbox.trickle.writes', trickle.writes)
  add('ratio.trickleOverPerItem', trickle.rate / perItem.rate)
  const group = await call('rawGroupCommit', N.trickle)
  add('raw.groupCommit', group.rate)
  add('ratio.rawGroupOverPerItem', group.rate / perItem.rate)
  add('ratio.trickleOverRawGroup', trickle.rate / group.rate)
  const ceiling = await call('rawBurst', N.burst)
  add('raw.burst', ceiling.rate)
  add('raw.burst.putShare', ceiling.putMs / ceiling.ms)
  const burst = await call('outboxBurst', N.burst)
  add('outbox.burst', burst.rate)
  add('outbox.burst.emitMs', burst.emitMs)
  add('outbox.burst.persistMs', burst.persistMs)
  add('ratio.burstOverCeiling', burst.rate / ceiling.rate)
  add('browser.notifications', burst.notifications)
  add('browser.updates', burst.updates)
  keep('outbox.burst', burst)
  const small = await call('outboxBurst', N.burstSmall)
  add('outbox.burstSmall.persistMs', small.persistMs)
  add('ratio.linearity', burst.persistMs / small.persistMs)
  const smallCeiling = await call('rawBurst', N.burstSmall)
  add('ratio.rawLinearity', ceiling.ms / smallCeiling.ms)
  if (rep <= DIAG_REPS) {
    // What-ifs with no change to the core, each paired with a plain run just before it:
    // ULIDs without crypto randomness, and no BroadcastChannel (no delta posts).
    for (const [id, whatIf] of [
      ['mathRandom', { mathRandom: true }],
      ['noBroadcast', { noBroadcast: true }],
    ] as const) {
      const plain = await call('outboxTrickle', N.whatIf, 'none')
      const changed = await call('outboxTrickle', N.whatIf, 'none', whatIf)
      add(`whatif.trickle.${id}`, changed.rate / plain.rate)
    }
  }
  const trickleSub = await call('outboxTrickle', N.trickle, 'pending')
  add('outbox.trickleSubscriber', trickleSub.rate)
  add('outbox.trickleSubscriber.notifications', trickleSub.notifications)
  keep('outbox.trickle', { none: trickle, pending: trickleSub })

  log(`browser rep ${rep}: the field`)
  const wb = await call('workbox', N.field, 'one-by-one', true)
  add('workbox.push', wb.pushRate)
  add('workbox.replay', wb.replayRate)
  const wbBurst = await call('workbox', N.field, 'burst', false)
  add('workbox.pushBurst', wbBurst.pushRate)
  add('ratio.burstOverWorkbox', burst.rate / wbBurst.pushRate)
  add('ratio.trickleOverWorkbox', trickle.rate / wb.pushRate)
  try {
    const ts = await call('tanstack', N.field, 'persist')
    add('tanstack.persist', ts.rate)
    add('ratio.burstOverTanstack', burst.rate / ts.rate)
    call = await freshPage(page, url) // drops the never-answering mutation of the persist run
    const tsd = await call('tanstack', N.perRequest, 'deliver')
    add('tanstack.deliver', tsd.rate)
  } catch (error) {
    keep('tanstack.error', String(error))
    call = await freshPage(page, url)
  }

  log(`browser rep ${rep}: durability, reads`)
  for (const perTx of [1, BATCH]) {
    const txCount = perTx === 1 ? 100 : 40
    const strict = await call('durability', 'strict', txCount, perTx)
    const relaxed = await call('durability', 'relaxed', txCount, perTx)
    add(`durability.strict.${perTx}`, strict.rate)
    add(`durability.relaxed.${perTx}`, relaxed.rate)
    add(`ratio.strictOverRelaxed.${perTx}`, strict.rate / relaxed.rate)
    if (perTx === BATCH) add(`durability.default.${perTx}`, (await call('durability', 'default', txCount, perTx)).rate)
  }
  for (const size of [1_000, 5_000]) {
    const a = await call('arrayRewrite', size, size === 1_000 ? 40 : 15)
    add(`raw.arrayRewrite.${size}`, a.rate)
  }
  const big = await call('readBig', 1_000)
  add('raw.getAllBig', big.allMs)
  add('raw.getAllPage', big.pageMs)

  log(`browser rep ${rep}: start-up`)
  call = await freshPage(page, url)
  const start = await call('startup', STARTUP_KEY)
  add('startup.firstSend', start.firstSendMs)
  add('startup.ready', start.readyMs)
  add('startup.firstLoad', start.firstLoadMs)
  add('startup.loads', start.loads)
  add('startup.fullLoads', start.fullLoads)
  add('startup.recordsRead', start.loadedTotal)
  add('startup.loadMsTotal', start.loadMsTotal)
  keep('startup', start)
  call = await freshPage(page, url)
  const rawStart = await call('rawStartupRead', STARTUP_KEY)
  add('raw.startupGetAll', rawStart.ms)
  add('startup.readyVsRaw', start.readyMs / rawStart.ms)

  log(`browser rep ${rep}: delivery`)
  call = await freshPage(page, url)
  await call('bareLoop', 1_000, BATCH) // warm-up (not recorded): JIT, connection, server paths
  const k1 = `deliver-1-${rep}`
  await call('seedOutbox', k1, N.perRequest, 'c1')
  const one = await call('deliver', {
    from: 'stored',
    mode: 'persistent',
    transport: 'ky',
    n: N.perRequest,
    batch: 1,
    key: k1,
  })
  const k2 = `deliver-50-${rep}`
  await call('seedOutbox', k2, N.batch, 'c1')
  const bareBefore = await call('bareLoop', N.batch, BATCH)
  const many = await call('deliver', {
    from: 'stored',
    mode: 'persistent',
    transport: 'ky',
    n: N.batch,
    batch: BATCH,
    key: k2,
  })
  const bareAfter = await call('bareLoop', N.batch, BATCH)
  // The bare loop right before and right after the outbox run: the ratio's denominator is their mean.
  const bare = { rate: (bareBefore.rate + bareAfter.rate) / 2 }
  // The same stored items through a persistent loop by hand: a delete per key, then one per batch.
  const byHand = async (deletes: 'each' | 'range') => {
    const key = `${deletes}-loop-${rep}`
    await call('seedOutbox', key, N.batch, 'c1')
    return call('rawPersistentLoop', key, BATCH, deletes)
  }
  const rawLoop = await byHand('each')
  add('browser.rawLoop.50', rawLoop.rate)
  add('browser.ratio.rawLoopOverBare', rawLoop.rate / bare.rate)
  const rangeLoop = await byHand('range')
  add('browser.rangeLoop.50', rangeLoop.rate)
  add('browser.ratio.rangeLoopOverBare', rangeLoop.rate / bare.rate)
  const bareOne = await call('bareLoop', N.perRequest, 1)
  // The gap to the bare loop, taken apart (first DIAG_REPS repetitions only, to keep the run short):
  // the engine alone, + ky, + IndexedDB; and what-ifs through the storage the outbox is given.
  if (rep <= DIAG_REPS) {
    const base = { from: 'resume', n: N.batch, batch: BATCH } as const
    const memFetch = await call('deliver', { ...base, mode: 'memory', transport: 'fetch' })
    const memKy = await call('deliver', { ...base, mode: 'memory', transport: 'ky' })
    const persKy = await call('deliver', { ...base, mode: 'persistent', transport: 'ky' })
    const persNoRewrite = await call('deliver', {
      ...base,
      mode: 'persistent',
      transport: 'ky',
      storage: 'first-put-only',
    })
    const persNone = await call('deliver', { ...base, mode: 'persistent', transport: 'ky', storage: 'none' })
    const persNoBc = await call('deliver', {
      ...base,
      mode: 'persistent',
      transport: 'ky',
      whatIf: { noBroadcast: true },
    })
    add('browser.split.persistentNoBroadcast', persNoBc.rate / persKy.rate)
    add('browser.split.memoryFetch', memFetch.rate / bare.rate)
    add('browser.split.memoryKy', memKy.rate / bare.rate)
    add('browser.split.persistentKy', persKy.rate / bare.rate)
    add('browser.split.persistentNoRewrite', persNoRewrite.rate / persKy.rate)
    add('browser.split.persistentNoStorage', persNone.rate / persKy.rate)
    add('browser.deliver.rewritesPerItem', persKy.rewrites / N.batch)
  }
  add('browser.split.stored', many.rate / bare.rate)
  add('browser.ratio.outboxOverRawLoop', many.rate / rawLoop.rate)
  add('browser.ratio.outboxOverRangeLoop', many.rate / rangeLoop.rate)
  add('browser.deliver.1', one.rate)
  add('browser.deliver.50', many.rate)
  add('browser.bare.50', bare.rate)
  add('browser.bare.1', bareOne.rate)
  add('browser.ratio.batchOverSingle', many.rate / one.rate)
  add('browser.ratio.bareBatchOverSingle', bare.rate / bareOne.rate)
  add('browser.ratio.outboxOverBare', many.rate / bare.rate)
  add('browser.ratio.outboxOverBare.1', one.rate / bareOne.rate)
  add('ratio.deliverOverWorkboxReplay', one.rate / wb.replayRate)
  keep('browser.deliver', { one, many, bare, bareOne })
}

/** One CPU profile per scenario (not repeated): where the main thread's time goes. */
async function browserProfiles(context: BrowserContext, page: Page, url: string, bundle: Bundle) {
  const cdp = await context.newCDPSession(page)
  await cdp.send('Profiler.enable')
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 })
  let finished: ((profile: CpuProfile) => void) | undefined
  cdp.on('Profiler.consoleProfileFinished', (e) => finished?.(e.profile as unknown as CpuProfile))
  const profiled = async (name: string, items: number, run: (call: Call) => Promise<unknown>, reload = true) => {
    const call = reload ? await freshPage(page, url) : caller(page)
    await call('setProfiling', true)
    const got = new Promise<CpuProfile>((resolve) => (finished = resolve))
    const result = await run(call)
    const profile = await got
    await call('setProfiling', false)
    const moduleOf = (u: string, line: number) => (u.endsWith('/bench.js') ? bundle.moduleAt(line) : moduleName(u))
    const top = topFunctions(profile, 18, moduleOf)
    const incl = inclusive(
      profile,
      [
        'emit',
        'assertSize',
        'commit',
        'write',
        'load',
        'merge',
        'checkRecord',
        'post',
        'notify',
        'pump',
        'send',
        'settle',
      ],
      (u, line) => moduleOf(u, line).startsWith('core'),
    )
    const modules = byModule(profile, moduleOf)
    const idle = modules.find((m) => m.module === '(idle)')?.ms ?? 0
    const busyMs = top.totalMs - idle
    return {
      name,
      items,
      result,
      totalMs: top.totalMs,
      busyMs,
      busyUsPerItem: (busyMs * 1000) / items,
      top: top.rows,
      inclusive: incl,
      modules,
    }
  }
  const out: Array<Awaited<ReturnType<typeof profiled>>> = []
  out.push(await profiled(`burst of ${N.burst} persistent emits`, N.burst, (call) => call('outboxBurst', N.burst)))
  out.push(
    await profiled(`${N.trickle} persistent emits, one per task`, N.trickle, (call) =>
      call('outboxTrickle', N.trickle, 'none'),
    ),
  )
  out.push(
    await profiled(
      `raw group commit by hand, ${N.trickle} records one per task (the baseline for the above)`,
      N.trickle,
      (call) => call('rawGroupCommit', N.trickle),
    ),
  )
  out.push(
    await profiled(`${N.trickle} persistent emits, one per task, subscriber reads pending`, N.trickle, (call) =>
      call('outboxTrickle', N.trickle, 'pending'),
    ),
  )
  out.push(await profiled(`start-up over ${N.stored} stored items`, N.stored, (call) => call('startup', STARTUP_KEY)))
  await freshPage(page, url).then((call) => call('seedOutbox', 'profile-deliver', N.batch, 'c1'))
  out.push(
    await profiled(
      `delivery of ${N.batch} stored items, ${BATCH} per POST`,
      N.batch,
      (call) =>
        call('deliver', {
          from: 'stored',
          mode: 'persistent',
          transport: 'ky',
          n: N.batch,
          batch: BATCH,
          key: 'profile-deliver',
        }),
      false,
    ),
  )
  await cdp.detach()
  return out
}

// ---------------------------------------------------------------------------------------------
// Node child processes

type Deliver = { rate: number; failed?: number }
async function nodeRep(url: string, rep: number) {
  log(`node rep ${rep}: delivery (memory mode)`)
  type Burst = { emitsPerSecond: number; usPerEmit: number; notifications: number; updates: number }
  type Store = { filling: number; atCap: number; size: number }
  const [, , one, bareBefore, many, bareAfter, bareOne, engine, burst, burstMath, store] = (await child(
    'node/suite.ts',
    {
      url,
      tasks: [
        // Warm-up (not recorded): JIT, undici's connection pool, the server's code paths.
        { task: 'bare', n: 1_000, batch: BATCH },
        { task: 'deliver', n: 1_000, batch: BATCH },
        { task: 'deliver', n: N.perRequest, batch: 1 },
        { task: 'bare', n: N.batch, batch: BATCH },
        { task: 'deliver', n: N.batch, batch: BATCH },
        { task: 'bare', n: N.batch, batch: BATCH },
        { task: 'bare', n: N.perRequest, batch: 1 },
        { task: 'deliver', n: N.batch, batch: BATCH, transport: 'fetch' },
        { task: 'burst', n: N.burst },
        { task: 'burst', n: N.burst, mathRandom: true },
        { task: 'serverStore', n: N.serverStore },
      ],
    },
  )) as [Deliver, Deliver, Deliver, Deliver, Deliver, Deliver, Deliver, Deliver, Burst, Burst, Store]
  // The bare loop right before and right after the outbox run: the ratio's denominator is their mean.
  const bare = { rate: (bareBefore.rate + bareAfter.rate) / 2 }
  add('node.split.memoryFetch', engine.rate / bare.rate)
  add('node.deliver.1', one.rate)
  add('node.deliver.50', many.rate)
  add('node.bare.50', bare.rate)
  add('node.bare.1', bareOne.rate)
  add('node.ratio.batchOverSingle', many.rate / one.rate)
  add('node.ratio.bareBatchOverSingle', bare.rate / bareOne.rate)
  add('node.ratio.outboxOverBare', many.rate / bare.rate)
  add('node.ratio.outboxOverBare.1', one.rate / bareOne.rate)
  add('node.usPerEmit.mathRandom', burstMath.usPerEmit)
  add('node.emitsPerSecond', burst.emitsPerSecond)
  add('node.usPerEmit', burst.usPerEmit)
  add('node.notifications', burst.notifications)
  add('node.updates', burst.updates)
  add('server.store.filling', store.filling)
  add('server.store.atCap', store.atCap)
  add('server.store.capOverFilling', store.atCap / store.filling)
  log(`node rep ${rep}: idempotency store, memory and Redis`)
  for (const [id, value] of storeSamples(await measureStoreCost(N.redisStore, BATCH))) add(id, value)
  if (rep <= MEMORY_REPS) {
    log(`node rep ${rep}: memory`)
    const mem = (await child('node/memory.ts', { n: N.memory }, ['--expose-gc'])) as {
      perItem: number
      plainPerItem: number
      pendingPerItem: number
    }
    add('memory.perItem', mem.perItem)
    add('memory.plainPerItem', mem.plainPerItem)
    add('memory.overheadPerItem', mem.perItem - mem.plainPerItem)
    add('memory.pendingPerItem', mem.pendingPerItem)
  }
}

type LaneRun = { meanLaneMs: number; maxLaneMs: number; failed: number; lanesDone: number }
type DownRun = {
  openedAfterMs: number
  callsBeforeOpen: number
  callsWhileOpen: number
  cooldowns: number
  probesPerCooldown: number
  callsDuringOutage: number
  recoveryToFirstMs: number
  recoveryToDrainMs: number
  delivered: number
}

/**
 * Section 8, one repetition: for each of single and batch mode on the flaky server (and on a clean
 * one), FAULT_ROUNDS rounds of an outbox run and a hand-written loop run back to back, the order
 * alternating; each round gives one ratio of the mean lane drain times. Then the 30 s outage.
 */
async function faultRep(url: string, rep: number) {
  log(`faults rep ${rep}: flaky server, outbox and hand-written loop`)
  const tasks: unknown[] = []
  const runs: Array<{ id: string }> = []
  for (const mode of ['mix', 'clean'] as const)
    for (const batch of [false, true])
      for (let round = 0; round < FAULT_ROUNDS; round++) {
        const order = (rep + round) % 2 === 0 ? (['outbox', 'loop'] as const) : (['loop', 'outbox'] as const)
        for (const who of order) {
          const seed = rep * 1000 + round * 10 + (batch ? 1 : 0) // both runs of a round meet the same faults
          tasks.push({ task: 'mix', who, mode, seed, n: FAULT.n, lanes: FAULT.lanes, batch })
          runs.push({ id: `${mode}.${batch ? 'batch' : 'single'}.${round}.${who}` })
        }
      }
  tasks.push({ task: 'down', n: FAULT.downN, lanes: FAULT.lanes, downMs: FAULT.downMs })
  const out = (await child('node/faults.ts', { url, tasks })) as unknown[]
  const byId = new Map(runs.map((r, i) => [r.id, out[i] as LaneRun]))
  for (const mode of ['mix', 'clean'] as const)
    for (const kind of ['single', 'batch'])
      for (let round = 0; round < FAULT_ROUNDS; round++) {
        const o = byId.get(`${mode}.${kind}.${round}.outbox`) as LaneRun
        const l = byId.get(`${mode}.${kind}.${round}.loop`) as LaneRun
        const p = `faults.${mode}.${kind}`
        add(`${p}.ratio`, o.meanLaneMs / l.meanLaneMs)
        add(`${p}.outbox`, o.meanLaneMs)
        add(`${p}.loop`, l.meanLaneMs)
        add(`${p}.outboxMax`, o.maxLaneMs)
        add(`${p}.loopMax`, l.maxLaneMs)
        add(`${p}.failed`, o.failed + (FAULT.lanes - o.lanesDone))
      }
  const down = out.at(-1) as DownRun
  for (const [k, v] of Object.entries(down)) add(`faults.down.${k}`, v)
}

// ---------------------------------------------------------------------------------------------
// Figures: what the tables show, with targets.

type Target = { op: '>=' | '<=' | '=='; value: number }
type Figure = {
  id: string
  section: string
  label: string
  unit: string
  target?: Target
  targetText?: string
  note?: string
}

const FAULTS = '8. Goodput under faults (Node, memory mode, default options, @outbox/server behind a fault layer)'
const faultFigures: Figure[] = [
  ...(['single', 'batch'] as const).flatMap((kind): Figure[] => {
    const how = kind === 'single' ? 'one event per request' : 'batch mode, up to 50 per request'
    return [
      {
        id: `faults.mix.${kind}.ratio`,
        section: FAULTS,
        label: `Flaky server, ${how}: outbox ÷ hand-written loop, mean over lanes of each lane's drain time`,
        unit: '×',
        target: { op: '<=', value: 1.25 },
      },
      {
        id: `faults.mix.${kind}.outbox`,
        section: FAULTS,
        label: `of which the outbox: mean lane drain time (${FAULT.n} events, ${FAULT.lanes} lanes)`,
        unit: 'ms',
      },
      {
        id: `faults.mix.${kind}.loop`,
        section: FAULTS,
        label: 'the hand-written loop: mean lane drain time',
        unit: 'ms',
      },
      { id: `faults.mix.${kind}.outboxMax`, section: FAULTS, label: 'the outbox: slowest lane', unit: 'ms' },
      { id: `faults.mix.${kind}.loopMax`, section: FAULTS, label: 'the hand-written loop: slowest lane', unit: 'ms' },
      {
        id: `faults.mix.${kind}.failed`,
        section: FAULTS,
        label: 'outbox items failed or lanes not drained',
        unit: 'items',
        target: { op: '==', value: 0 },
      },
      {
        id: `faults.clean.${kind}.ratio`,
        section: FAULTS,
        label: `Clean server, ${how}: outbox ÷ hand-written loop, mean lane drain time`,
        unit: '×',
      },
    ]
  }),
  {
    id: 'faults.down.probesPerCooldown',
    section: FAULTS,
    label: `Server down for ${FAULT.downMs / 1000} s (503 to all; ${FAULT.downN} events, ${FAULT.lanes} lanes): requests while the breaker is open ÷ cooldowns`,
    unit: 'per cooldown',
    target: { op: '<=', value: 1 },
  },
  {
    id: 'faults.down.callsWhileOpen',
    section: FAULTS,
    label: 'requests sent while the breaker was open',
    unit: 'requests',
  },
  { id: 'faults.down.cooldowns', section: FAULTS, label: 'cooldowns that ended (1, 2, 4, 8, 16 s…)', unit: '' },
  {
    id: 'faults.down.openedAfterMs',
    section: FAULTS,
    label: 'time from the first failure to the breaker opening',
    unit: 'ms',
  },
  { id: 'faults.down.callsBeforeOpen', section: FAULTS, label: 'requests before it opened', unit: 'requests' },
  { id: 'faults.down.callsDuringOutage', section: FAULTS, label: 'requests during the whole outage', unit: 'requests' },
  {
    id: 'faults.down.recoveryToFirstMs',
    section: FAULTS,
    label: 'time from the recovery to the first delivery (waits for the next probe)',
    unit: 'ms',
  },
  {
    id: 'faults.down.recoveryToDrainMs',
    section: FAULTS,
    label: 'time from the recovery to the last delivery',
    unit: 'ms',
  },
]

const figures: Figure[] = [
  // 1. Persistent emit
  {
    id: 'ratio.burstOverCeiling',
    section: '1. Persistent emit (Chromium)',
    label: `Burst of ${N.burst} emits persisted ÷ raw one-transaction ceiling`,
    unit: '×',
    target: { op: '>=', value: 0.7 },
  },
  {
    id: 'outbox.burst',
    section: '1. Persistent emit (Chromium)',
    label: `Burst of ${N.burst} emits, until all are committed to IndexedDB`,
    unit: 'items/s',
  },
  {
    id: 'raw.burst',
    section: '1. Persistent emit (Chromium)',
    label: `Raw ceiling: the same ${N.burst} records in one transaction (idb-keyval store, put loop)`,
    unit: 'items/s',
  },
  {
    id: 'outbox.burst.emitMs',
    section: '1. Persistent emit (Chromium)',
    label: `Synchronous emit() time of the ${N.burst}-emit burst`,
    unit: 'ms',
  },
  {
    id: 'ratio.trickleOverPerItem',
    section: '1. Persistent emit (Chromium)',
    label: `${N.trickle} emits one per task (MessageChannel) ÷ awaited per-item idb-keyval set`,
    unit: '×',
    target: { op: '>=', value: 5 },
  },
  {
    id: 'outbox.trickle',
    section: '1. Persistent emit (Chromium)',
    label: `${N.trickle} emits one per task, until all are committed`,
    unit: 'items/s',
  },
  {
    id: 'outbox.trickle.writes',
    section: '1. Persistent emit (Chromium)',
    label: `Group commits (write transactions) for those ${N.trickle} emits`,
    unit: 'tx',
  },
  {
    id: 'raw.groupCommit',
    section: '1. Persistent emit (Chromium)',
    label: `Raw group commit by hand (prebuilt records, same one-per-task arrivals, ${N.trickle} items)`,
    unit: 'items/s',
  },
  {
    id: 'ratio.rawGroupOverPerItem',
    section: '1. Persistent emit (Chromium)',
    label: 'Raw group commit ÷ awaited per-item set (what group commit can give here)',
    unit: '×',
  },
  {
    id: 'ratio.trickleOverRawGroup',
    section: '1. Persistent emit (Chromium)',
    label: 'Outbox one per task ÷ raw group commit (what the core keeps of it)',
    unit: '×',
  },
  {
    id: 'whatif.trickle.mathRandom',
    section: '1. Persistent emit (Chromium)',
    label: `What-if, one per task (${N.whatIf}): OutboxOptions.random = Math.random ÷ the same run plain`,
    unit: '×',
  },
  {
    id: 'whatif.trickle.noBroadcast',
    section: '1. Persistent emit (Chromium)',
    label: `What-if, one per task (${N.whatIf}): BroadcastChannel hidden (no delta posts) ÷ plain`,
    unit: '×',
  },
  {
    id: 'raw.perItemSet',
    section: '1. Persistent emit (Chromium)',
    label: `Raw floor: awaiting one idb-keyval set per item (${N.perItemSet} items)`,
    unit: 'items/s',
  },
  {
    id: 'ratio.linearity',
    section: '1. Persistent emit (Chromium)',
    label: `Linearity: persist time of ${N.burst} emits ÷ ${N.burstSmall} emits`,
    unit: '×',
    target: { op: '<=', value: 11 },
  },
  {
    id: 'ratio.rawLinearity',
    section: '1. Persistent emit (Chromium)',
    label: `(for reference) the same ratio for the raw one-transaction write`,
    unit: '×',
  },
  {
    id: 'outbox.trickleSubscriber',
    section: '1. Persistent emit (Chromium)',
    label: `${N.trickle} emits one per task with a subscriber that reads state.pending (a UI list)`,
    unit: 'items/s',
    note: 'informational: one notification per task, each materializing the pending array',
  },
  // 2. Start-up
  {
    id: 'startup.firstSend',
    section: '2. Start-up (Chromium, persistent)',
    label: `Time to the first send with ${N.stored} stored items`,
    unit: 'ms',
    target: { op: '<=', value: 50 },
  },
  {
    id: 'startup.ready',
    section: '2. Start-up (Chromium, persistent)',
    label: `Time until all ${N.stored} stored items are loaded (ready)`,
    unit: 'ms',
    target: { op: '<=', value: 200 },
  },
  {
    id: 'startup.firstLoad',
    section: '2. Start-up (Chromium, persistent)',
    label: 'of which the first storage read (a page, or a full entries() read)',
    unit: 'ms',
  },
  {
    id: 'startup.loads',
    section: '2. Start-up (Chromium, persistent)',
    label: 'Storage reads during start-up (pages and full loads)',
    unit: 'reads',
  },
  {
    id: 'startup.fullLoads',
    section: '2. Start-up (Chromium, persistent)',
    label: 'of which full reads of the store (load())',
    unit: 'reads',
  },
  {
    id: 'startup.recordsRead',
    section: '2. Start-up (Chromium, persistent)',
    label: `Records read during start-up (${N.stored} stored)`,
    unit: 'records',
  },
  {
    id: 'raw.startupGetAll',
    section: '2. Start-up (Chromium, persistent)',
    label: `Raw floor: one getAll of the same ${N.stored} stored records, every value read (fresh page)`,
    unit: 'ms',
  },
  {
    id: 'startup.readyVsRaw',
    section: '2. Start-up (Chromium, persistent)',
    label: 'Time until all are loaded ÷ that raw read (what the outbox adds: validation, queue, paging)',
    unit: '×',
  },
  {
    id: 'raw.getAllBig',
    section: '2. Start-up (Chromium, persistent)',
    label: `Raw: getAll of ${N.big} records`,
    unit: 'ms',
  },
  {
    id: 'raw.getAllPage',
    section: '2. Start-up (Chromium, persistent)',
    label: 'Raw: getAll of a first page of 1 000 records (same store)',
    unit: 'ms',
  },
  // 3. Delivery
  {
    id: 'browser.ratio.batchOverSingle',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: `Batch mode (${BATCH}/POST) ÷ one item per request, whole loop`,
    unit: '×',
    target: { op: '>=', value: 20 },
  },
  {
    id: 'browser.deliver.50',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: `Whole loop, batch mode: read ${N.batch} stored, send, delete on ack`,
    unit: 'items/s',
    target: { op: '>=', value: 5000 },
  },
  {
    id: 'browser.ratio.outboxOverBare',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: 'Outbox whole loop (batch) ÷ bare fetch loop, same batches',
    unit: '×',
    target: { op: '>=', value: 0.9 },
  },
  {
    id: 'browser.rawLoop.50',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: `Hand-written persistent loop (idb-keyval): getAll, POST ${BATCH} at a time, delMany per answer`,
    unit: 'items/s',
  },
  {
    id: 'browser.ratio.rawLoopOverBare',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: 'Hand-written persistent loop ÷ bare fetch loop (what IndexedDB itself costs here)',
    unit: '×',
  },
  {
    id: 'browser.rangeLoop.50',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: `Floor persistent loop by hand: getAll, POST ${BATCH} at a time, one range delete per answer`,
    unit: 'items/s',
  },
  {
    id: 'browser.ratio.rangeLoopOverBare',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: 'Floor persistent loop ÷ bare fetch loop (the least IndexedDB work the loop can do)',
    unit: '×',
  },
  {
    id: 'browser.ratio.outboxOverRawLoop',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: 'Outbox whole loop ÷ hand-written persistent loop (what the core adds)',
    unit: '×',
  },
  {
    id: 'browser.ratio.outboxOverRangeLoop',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: 'Outbox whole loop ÷ floor persistent loop',
    unit: '×',
  },
  {
    id: 'browser.split.memoryFetch',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: 'Gap analysis ÷ bare loop: memory mode, a 20-line fetch transport (the engine alone)',
    unit: '×',
  },
  {
    id: 'browser.split.memoryKy',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: 'Gap analysis ÷ bare loop: memory mode, httpTransport (engine + ky)',
    unit: '×',
  },
  {
    id: 'browser.split.persistentKy',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: 'Gap analysis ÷ bare loop: persistent, emitted in this session, then resume (+ IndexedDB)',
    unit: '×',
  },
  {
    id: 'browser.split.persistentNoRewrite',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: 'What-if ÷ the persistent line: storage skips rewrites of stored records (no "sending" puts)',
    unit: '×',
  },
  {
    id: 'browser.split.persistentNoStorage',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: 'What-if ÷ the persistent line: a storage that does nothing (persistence bookkeeping only)',
    unit: '×',
  },
  {
    id: 'browser.split.persistentNoBroadcast',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: 'What-if ÷ the persistent line: BroadcastChannel hidden (no delta or notice posts)',
    unit: '×',
  },
  {
    id: 'browser.deliver.rewritesPerItem',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: 'Records rewritten per delivered item (status puts besides the first put and the delete)',
    unit: 'puts/item',
  },
  {
    id: 'browser.bare.50',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: `Bare fetch loop, ${BATCH} per POST, no outbox (mean of runs just before and after the outbox run)`,
    unit: 'items/s',
  },
  {
    id: 'browser.deliver.1',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: `Whole loop, one item per request (${N.perRequest} stored items)`,
    unit: 'items/s',
  },
  {
    id: 'browser.bare.1',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: 'Bare fetch loop, one item per request',
    unit: 'items/s',
  },
  {
    id: 'browser.ratio.bareBatchOverSingle',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: 'The same ratio for the bare fetch loop (what batching gives against this server)',
    unit: '×',
  },
  {
    id: 'browser.ratio.outboxOverBare.1',
    section: '3. Delivery (Chromium, persistent, @outbox/server on node:http)',
    label: 'Outbox (one per request) ÷ bare fetch loop (one per request)',
    unit: '×',
  },
  {
    id: 'node.ratio.batchOverSingle',
    section: '3. Delivery (Node, memory mode, @outbox/server in another process)',
    label: `Batch mode (${BATCH}/POST) ÷ one item per request`,
    unit: '×',
    target: { op: '>=', value: 20 },
  },
  {
    id: 'node.ratio.bareBatchOverSingle',
    section: '3. Delivery (Node, memory mode, @outbox/server in another process)',
    label: 'The same ratio for the bare fetch loop (what batching gives against this server)',
    unit: '×',
  },
  {
    id: 'node.deliver.50',
    section: '3. Delivery (Node, memory mode, @outbox/server in another process)',
    label: `Whole loop, batch mode (${N.batch} items: send, ack, remove)`,
    unit: 'items/s',
    target: { op: '>=', value: 5000 },
  },
  {
    id: 'node.ratio.outboxOverBare',
    section: '3. Delivery (Node, memory mode, @outbox/server in another process)',
    label: 'Outbox (batch) ÷ bare fetch loop, same batches',
    unit: '×',
    target: { op: '>=', value: 0.9 },
  },
  {
    id: 'node.split.memoryFetch',
    section: '3. Delivery (Node, memory mode, @outbox/server in another process)',
    label: 'Gap analysis ÷ bare loop: a 20-line fetch transport instead of httpTransport (no ky)',
    unit: '×',
  },
  {
    id: 'node.bare.50',
    section: '3. Delivery (Node, memory mode, @outbox/server in another process)',
    label: `Bare fetch loop, ${BATCH} per POST (mean of runs just before and after the outbox run)`,
    unit: 'items/s',
  },
  {
    id: 'node.deliver.1',
    section: '3. Delivery (Node, memory mode, @outbox/server in another process)',
    label: `Whole loop, one item per request (${N.perRequest} items)`,
    unit: 'items/s',
  },
  {
    id: 'node.bare.1',
    section: '3. Delivery (Node, memory mode, @outbox/server in another process)',
    label: 'Bare fetch loop, one item per request',
    unit: 'items/s',
  },
  {
    id: 'store.memory.single.keys',
    section:
      '@outbox/server: memoryStore and redisStore per event (Node, handler called directly, redis-server with AOF)',
    label: `memoryStore, single requests: new events through the handler`,
    unit: 'keys/s',
  },
  {
    id: 'store.redis.single.keys',
    section:
      '@outbox/server: memoryStore and redisStore per event (Node, handler called directly, redis-server with AOF)',
    label: `redisStore, single requests: the same (a claim and a stored answer each: two round trips)`,
    unit: 'keys/s',
  },
  {
    id: 'store.added.single.p50',
    section:
      '@outbox/server: memoryStore and redisStore per event (Node, handler called directly, redis-server with AOF)',
    label: `Latency Redis adds per request, p50 (single requests)`,
    unit: 'ms',
  },
  {
    id: 'store.added.single.p99',
    section:
      '@outbox/server: memoryStore and redisStore per event (Node, handler called directly, redis-server with AOF)',
    label: `Latency Redis adds per request, p99 (single requests)`,
    unit: 'ms',
  },
  {
    id: 'store.memory.batch.keys',
    section:
      '@outbox/server: memoryStore and redisStore per event (Node, handler called directly, redis-server with AOF)',
    label: `memoryStore, batches of ${BATCH}: new events through the handler`,
    unit: 'keys/s',
  },
  {
    id: 'store.redis.batch.keys',
    section:
      '@outbox/server: memoryStore and redisStore per event (Node, handler called directly, redis-server with AOF)',
    label: `redisStore, batches of ${BATCH}: the same (a claim and a stored answer each: two round trips)`,
    unit: 'keys/s',
  },
  {
    id: 'store.added.batch.p50',
    section:
      '@outbox/server: memoryStore and redisStore per event (Node, handler called directly, redis-server with AOF)',
    label: `Latency Redis adds per request, p50 (batches of ${BATCH})`,
    unit: 'ms',
  },
  {
    id: 'store.added.batch.p99',
    section:
      '@outbox/server: memoryStore and redisStore per event (Node, handler called directly, redis-server with AOF)',
    label: `Latency Redis adds per request, p99 (batches of ${BATCH})`,
    unit: 'ms',
  },
  // 4. Memory
  {
    id: 'memory.perItem',
    section: '4. Memory (Node, memory mode, --expose-gc)',
    label: `Heap per pending item, ${N.memory} pending, 300-byte payload`,
    unit: 'bytes',
    target: { op: '<=', value: 1024 },
  },
  {
    id: 'memory.plainPerItem',
    section: '4. Memory (Node, memory mode, --expose-gc)',
    label: 'Floor: the same envelopes as plain objects in one array',
    unit: 'bytes',
  },
  {
    id: 'memory.overheadPerItem',
    section: '4. Memory (Node, memory mode, --expose-gc)',
    label: 'Outbox bookkeeping over that floor',
    unit: 'bytes',
  },
  {
    id: 'memory.pendingPerItem',
    section: '4. Memory (Node, memory mode, --expose-gc)',
    label: 'Extra while the pending array is held (a UI reading outbox.pending)',
    unit: 'bytes',
  },
  // 5. Notifications
  {
    id: 'browser.notifications',
    section: '5. Notifications',
    label: `Subscriber calls for a burst of ${N.burst} emits (Chromium, persistent)`,
    unit: 'calls',
    target: { op: '==', value: 1 },
  },
  {
    id: 'node.notifications',
    section: '5. Notifications',
    label: `Subscriber calls for a burst of ${N.burst} emits (Node, memory)`,
    unit: 'calls',
    target: { op: '==', value: 1 },
  },
  {
    id: 'node.updates',
    section: '5. Notifications',
    label: `'outbox:update' events for the same burst (Node)`,
    unit: 'events',
    target: { op: '==', value: 1 },
  },
  {
    id: 'node.usPerEmit',
    section: '5. Notifications',
    label: `emit() cost in a burst of ${N.burst} (Node, memory, paused)`,
    unit: 'µs/emit',
  },
  {
    id: 'node.usPerEmit.mathRandom',
    section: '5. Notifications',
    label: 'the same with OutboxOptions.random = Math.random (ids drawn without crypto.getRandomValues)',
    unit: 'µs/emit',
  },
  // 7. Durability
  {
    id: 'durability.strict.50',
    section: '7. IndexedDB durability (raw, Chromium)',
    label: `durability 'strict', ${BATCH} puts per transaction, 40 transactions in a row`,
    unit: 'items/s',
  },
  {
    id: 'durability.relaxed.50',
    section: '7. IndexedDB durability (raw, Chromium)',
    label: `durability 'relaxed', ${BATCH} puts per transaction`,
    unit: 'items/s',
  },
  {
    id: 'durability.default.50',
    section: '7. IndexedDB durability (raw, Chromium)',
    label: `no durability option (Chromium's default), ${BATCH} puts per transaction`,
    unit: 'items/s',
  },
  {
    id: 'ratio.strictOverRelaxed.50',
    section: '7. IndexedDB durability (raw, Chromium)',
    label: `strict ÷ relaxed, ${BATCH} per transaction`,
    unit: '×',
  },
  {
    id: 'durability.strict.1',
    section: '7. IndexedDB durability (raw, Chromium)',
    label: `durability 'strict', 1 put per transaction, 100 in a row`,
    unit: 'items/s',
  },
  {
    id: 'durability.relaxed.1',
    section: '7. IndexedDB durability (raw, Chromium)',
    label: `durability 'relaxed', 1 put per transaction`,
    unit: 'items/s',
  },
  {
    id: 'ratio.strictOverRelaxed.1',
    section: '7. IndexedDB durability (raw, Chromium)',
    label: 'strict ÷ relaxed, 1 per transaction',
    unit: '×',
  },
  // @outbox/server
  {
    id: 'server.store.filling',
    section: '@outbox/server idempotency store (Node)',
    label: `memoryStore: claim + complete per key while it fills to maxEntries ${N.serverStore}`,
    unit: 'µs/key',
  },
  {
    id: 'server.store.atCap',
    section: '@outbox/server idempotency store (Node)',
    label: `the same for ${N.serverStore} more keys at the cap (each evicts the least recently used)`,
    unit: 'µs/key',
  },
  {
    id: 'server.store.capOverFilling',
    section: '@outbox/server idempotency store (Node)',
    label: 'at the cap ÷ filling (flat is right; it was about 50x before the eviction walk was kept)',
    unit: '×',
  },
  // Side by side
  {
    id: 'workbox.push',
    section: 'The field, same items, same run (Chromium)',
    label: `workbox-background-sync Queue.pushRequest, awaited one by one (${N.field})`,
    unit: 'items/s',
  },
  {
    id: 'workbox.pushBurst',
    section: 'The field, same items, same run (Chromium)',
    label: 'workbox-background-sync Queue.pushRequest, all at once (Promise.all)',
    unit: 'items/s',
  },
  {
    id: 'ratio.burstOverWorkbox',
    section: 'The field, same items, same run (Chromium)',
    label: '@outbox burst persisted ÷ workbox all-at-once',
    unit: '×',
  },
  {
    id: 'ratio.trickleOverWorkbox',
    section: 'The field, same items, same run (Chromium)',
    label: '@outbox one per task ÷ workbox one by one',
    unit: '×',
  },
  {
    id: 'tanstack.persist',
    section: 'The field, same items, same run (Chromium)',
    label: `@tanstack/offline-transactions: ${N.field} offline transactions committed at once, until stored`,
    unit: 'items/s',
  },
  {
    id: 'ratio.burstOverTanstack',
    section: 'The field, same items, same run (Chromium)',
    label: '@outbox burst persisted ÷ @tanstack/offline-transactions',
    unit: '×',
  },
  {
    id: 'workbox.replay',
    section: 'The field, same items, same run (Chromium)',
    label: 'workbox replayRequests(): read, send one per request, delete',
    unit: 'items/s',
  },
  {
    id: 'tanstack.deliver',
    section: 'The field, same items, same run (Chromium)',
    label: `@tanstack/offline-transactions: ${N.perRequest} transactions, store + POST each + delete`,
    unit: 'items/s',
  },
  {
    id: 'ratio.deliverOverWorkboxReplay',
    section: 'The field, same items, same run (Chromium)',
    label: '@outbox one per request ÷ workbox replay',
    unit: '×',
  },
  // Reference figures
  {
    id: 'raw.arrayRewrite.1000',
    section: 'Reference: the array-under-one-key anti-pattern (Chromium)',
    label: 'Append by rewriting the whole queue array, at 1 000 items',
    unit: 'items/s',
  },
  {
    id: 'raw.arrayRewrite.5000',
    section: 'Reference: the array-under-one-key anti-pattern (Chromium)',
    label: 'Append by rewriting the whole queue array, at 5 000 items',
    unit: 'items/s',
  },
  ...faultFigures,
]

const check = (t: Target, v: number) =>
  t.op === '>=' ? v >= t.value : t.op === '<=' ? v <= t.value : Math.abs(v - t.value) < 1e-9

type FigureResult = Figure & { summary: Summary; pass?: boolean }

function results(): FigureResult[] {
  return figures.map((f) => {
    const summary = summarize(samples.get(f.id) ?? [])
    return { ...f, summary, ...(f.target ? { pass: check(f.target, summary.median) } : {}) }
  })
}

// ---------------------------------------------------------------------------------------------
// Reports

const kB = (bytes: number) => (bytes / 1000).toFixed(2)

function sizeBudgets(): Map<string, number> {
  // The repository's size-limit budgets (size-limit counts 1 kB = 1000 B, brotli).
  const out = new Map<string, number>()
  try {
    const list = JSON.parse(readFileSync(join(root, '.size-limit.json'), 'utf8')) as Array<{
      name: string
      limit: string
    }>
    for (const e of list) out.set(e.name, Number.parseFloat(e.limit) * (/kb/i.test(e.limit) ? 1000 : 1))
  } catch {}
  return out
}

function budgetFor(row: SizeRow, budgets: Map<string, number>): number | undefined {
  return row.group === 'ours' ? budgets.get(row.name) : undefined
}

type Meta = Record<string, unknown>

function markdown(meta: Meta, figs: FigureResult[], sizes: SizeRow[], profiles: unknown[], notes: string[]): string {
  const budgets = sizeBudgets()
  const lines: string[] = []
  lines.push(`Run ${meta.date} · ${meta.chromium} · Node ${meta.node} · ${meta.cpu} × ${meta.cores} cores`)
  lines.push(
    `· ${meta.reps} repetitions (memory: ${meta.memoryReps}) · total ${meta.totalSeconds} s · load average (1 min) during the run: mean ${meta.loadMean}, max ${meta.loadMax}`,
  )
  lines.push('')
  lines.push('Medians over the repetitions, with min and max; a ratio is computed within each repetition.')
  if (Number(meta.loadMean) > Number(meta.cores))
    lines.push(
      '',
      `**The machine was shared during this run** (mean load average ${meta.loadMean} on ${meta.cores} cores, this suite included; it alone keeps about 1–2 busy): absolute rates are below what the same machine gives idle, and vary between repetitions; ratios, measured moments apart, are the figures to read.`,
    )
  lines.push('')
  let section = ''
  for (const f of figs) {
    if (f.section !== section) {
      section = f.section
      lines.push(
        '',
        `### ${section}`,
        '',
        '| figure | median | min | max | unit | target | pass |',
        '|---|--:|--:|--:|---|---|---|',
      )
    }
    const t = f.target ? `${f.target.op === '==' ? '=' : f.target.op === '>=' ? '≥' : '≤'} ${f.target.value}` : ''
    const pass = f.pass === undefined ? '' : f.pass ? 'pass' : '**FAIL**'
    const s = f.summary
    lines.push(
      `| ${f.label}${f.note ? ` (${f.note})` : ''} | ${fmt(s.median)} | ${fmt(s.min)} | ${fmt(s.max)} | ${f.unit} | ${t} | ${pass} |`,
    )
  }
  if (sizes.length > 0) {
    lines.push('', '### 6. Bundle size (esbuild, ESM, minified, tree-shaken; 1 kB = 1000 B)', '')
    lines.push('| bundle | min kB | gzip kB | brotli kB | over core+http (brotli) | size-limit budget | pass |')
    lines.push('|---|--:|--:|--:|--:|--:|---|')
    for (const r of sizes) {
      const budget = budgetFor(r, budgets)
      lines.push(
        `| ${r.name} | ${kB(r.minBytes)} | ${kB(r.gzipBytes)} | ${kB(r.brotliBytes)} | ${r.overBrotli === undefined ? '' : `+${kB(r.overBrotli)}`} | ${budget === undefined ? '' : kB(budget)} | ${budget === undefined ? '' : r.brotliBytes <= budget ? 'pass' : '**FAIL**'} |`,
      )
    }
  }
  if (notes.length > 0) {
    lines.push('', '### Notes', '')
    for (const n of notes) lines.push(`- ${n}`)
  }
  if (profiles.length > 0)
    lines.push(
      '',
      '### CPU profiles (one run each, exactly the timed part)',
      '',
      'Chromium main thread (DevTools protocol, 100 µs sampling); the last one is Node. "Busy" is everything but (idle).',
      '',
    )
  for (const p of profiles as Array<{
    name: string
    totalMs: number
    top: ProfileRow[]
    inclusive: Record<string, number>
    modules?: Array<{ module: string; ms: number; share: number }>
    busyMs?: number
    busyUsPerItem?: number
  }>) {
    const incl = Object.entries(p.inclusive)
      .filter(([, ms]) => ms >= 1)
      .map(([n, ms]) => `${n} ${ms.toFixed(0)} ms`)
      .join(', ')
    const busy =
      p.busyMs === undefined
        ? ''
        : ` Main thread busy ${p.busyMs.toFixed(0)} ms, ${p.busyUsPerItem?.toFixed(0)} µs per item.`
    lines.push(`**${p.name}** — ${p.totalMs.toFixed(0)} ms sampled.${busy}`, '')
    if (p.modules)
      lines.push(
        `By module (native calls counted for their JS caller): ${p.modules
          .filter((m) => m.share >= 0.01)
          .map((m) => `${m.module} ${m.ms.toFixed(0)} ms (${(m.share * 100).toFixed(0)}%)`)
          .join(', ')}.`,
        '',
      )
    lines.push(`Inclusive time of core functions: ${incl || 'n/a'}.`, '')
    lines.push('| function (self time) | module | where | self ms | share |', '|---|---|---|--:|--:|')
    for (const r of p.top.slice(0, 12))
      lines.push(
        `| ${r.fn} | ${r.module ?? (r.where ? '' : 'native')} | ${r.where} | ${r.selfMs.toFixed(1)} | ${(r.share * 100).toFixed(1)}% |`,
      )
    lines.push('')
  }
  return `${lines.join('\n')}\n`
}

function updateReadme(table: string) {
  const path = join(here, 'README.md')
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return
  }
  const start = '<!-- results:start -->'
  const end = '<!-- results:end -->'
  const a = text.indexOf(start)
  const b = text.indexOf(end)
  if (a < 0 || b < a) return
  writeFileSync(path, `${text.slice(0, a + start.length)}\n${table}${text.slice(b)}`)
  // The repository lints markdown too: let biome lay out the new tables.
  try {
    execFileSync(join(root, 'node_modules/.bin/biome'), ['format', '--write', path], { cwd: root, stdio: 'ignore' })
  } catch {}
}

// ---------------------------------------------------------------------------------------------

/** `BENCH_ONLY=faults`: section 8 alone, for working on the breaker and the scheduler. */
async function faultsOnly() {
  const { url, server } = await startFaultServer()
  try {
    for (let rep = 1; rep <= FAULT_REPS; rep++) await faultRep(url, rep)
  } finally {
    server.close()
  }
  const figs = results().filter((f) => f.section === FAULTS)
  const meta: Meta = {
    date: new Date().toISOString(),
    chromium: 'no Chromium (BENCH_ONLY=faults)',
    node: process.versions.node,
    cpu: os.cpus()[0]?.model ?? 'unknown CPU',
    cores: os.cpus().length,
    reps: FAULT_REPS,
    memoryReps: 0,
    totalSeconds: Math.round((performance.now() - started) / 1000),
    loadMean: os.loadavg()[0]?.toFixed(2),
    loadMax: os.loadavg()[0]?.toFixed(2),
  }
  const md = markdown(meta, figs, [], [], [])
  mkdirSync(join(here, 'results'), { recursive: true })
  writeFileSync(join(here, 'results/faults.md'), `# @outbox bench: goodput under faults\n\n${md}`)
  writeFileSync(
    join(here, 'results/faults.json'),
    `${JSON.stringify({ meta, figures: figs, extra: Object.fromEntries(samples) }, null, 2)}\n`,
  )
  process.stdout.write(md)
}

async function main() {
  if (process.env.BENCH_ONLY === 'faults') return faultsOnly()
  const loadStart = os.loadavg()[0]?.toFixed(2)
  // The machine may be shared: sample the 1-minute load average through the run.
  const loads: number[] = []
  const sampler = setInterval(() => loads.push(os.loadavg()[0] ?? 0), 5_000)
  sampler.unref()
  log(`bundling the browser suite${process.env.BENCH_SOURCE ? ' (@outbox/core from src)' : ''}`)
  const bundle = await bundleBrowserSuite()
  const { url, server } = await startServer(bundle.code)
  log(`server on ${url}`)
  const profileDir = mkdtempSync(join(os.tmpdir(), 'outbox-bench-profile-'))
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    args: ARGS,
    headless: true,
  })
  const notes: string[] = []
  let profiles: unknown[] = []
  let chromiumVersion = 'Chromium'
  try {
    const page = context.pages()[0] ?? (await context.newPage())
    page.on('pageerror', (e) => log('page error:', e.message))
    chromiumVersion = `Chromium ${context.browser()?.version() ?? (await page.evaluate(() => navigator.userAgent))}`
    let call = await freshPage(page, url)
    log(`seeding ${N.big} records for the read figures and ${N.stored} stored outbox items for start-up`)
    await call('seedBig', N.big)
    await call('seedOutbox', STARTUP_KEY, N.stored, 'c1').catch(() => {})
    call = await freshPage(page, url)
    for (let rep = 1; rep <= REPS; rep++) await browserRep(page, url, rep)
    log('browser: CPU profiles')
    profiles = await browserProfiles(context, page, url, bundle)
  } finally {
    await context.close()
    rmSync(profileDir, { recursive: true, force: true })
  }
  for (let rep = 1; rep <= REPS; rep++) await nodeRep(url, rep)
  const faultServer = await startFaultServer()
  try {
    for (let rep = 1; rep <= FAULT_REPS; rep++) await faultRep(faultServer.url, rep)
  } finally {
    faultServer.server.close()
  }
  log('node: CPU profile of emit')
  const [emitProfile] = (await child('node/suite.ts', { url, tasks: [{ task: 'profileEmit', n: N.burst }] })) as [
    {
      emitMs: number
      top: { totalMs: number; rows: ProfileRow[] }
      inclusive: Record<string, number>
      modules: Array<{ module: string; ms: number; share: number }>
    },
  ]
  profiles.push({
    name: `Node: burst of ${N.burst} emits, memory mode`,
    totalMs: emitProfile.top.totalMs,
    top: emitProfile.top.rows,
    inclusive: emitProfile.inclusive,
    modules: emitProfile.modules,
    busyMs: emitProfile.top.totalMs,
    busyUsPerItem: (emitProfile.top.totalMs * 1000) / N.burst,
  })
  server.close()
  log('bundle sizes')
  const sizes = await measureSizes()

  const tanstackErrors = extras.get('tanstack.error')
  if (tanstackErrors) notes.push(`@tanstack/offline-transactions could not be driven: ${String(tanstackErrors[0])}`)
  notes.push(
    '@tanstack/offline-transactions is driven from the page: a @tanstack/db local-only collection, one offline transaction per item (mutate(insert) + commit()), its IndexedDBAdapter and a WebLocksLeader of its own. It stores one record per transaction in its own IndexedDB transaction and runs transactions one at a time (FIFO), so its delivery is one request per item.',
  )
  notes.push(
    'workbox-background-sync runs in the page with `self.registration = { sync: { register: async () => {} } }` stubbed before the bundle loads; its replayRequests() is what its sync event would run.',
  )
  notes.push(
    "Persistence is timed through the outbox's own idbStorage wrapped to count commits (OutboxOptions.storage); an item counts as persisted when its write transaction fires complete.",
  )

  clearInterval(sampler)
  const totalSeconds = Math.round((performance.now() - started) / 1000)
  let commit = ''
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim()
  } catch {}
  const meta: Meta = {
    date: new Date().toISOString(),
    commit,
    chromium: chromiumVersion,
    node: process.versions.node,
    cpu: os.cpus()[0]?.model ?? 'unknown CPU',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    reps: REPS,
    memoryReps: MEMORY_REPS,
    quick,
    source: process.env.BENCH_SOURCE === '1',
    n: N,
    totalSeconds,
    loadStart,
    loadEnd: os.loadavg()[0]?.toFixed(2),
    loadMean: (loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length)).toFixed(2),
    loadMax: Math.max(0, ...loads).toFixed(2),
  }
  const figs = results()
  const md = markdown(meta, figs, sizes, profiles, notes)
  mkdirSync(join(here, 'results'), { recursive: true })
  const json = {
    meta,
    figures: figs.map(({ id, section, label, unit, target, pass, summary }) => ({
      id,
      section,
      label,
      unit,
      median: summary.median,
      min: summary.min,
      max: summary.max,
      samples: summary.samples,
      ...(target ? { target, pass } : {}),
    })),
    extra: Object.fromEntries(
      [...samples].filter(([id]) => !figures.some((f) => f.id === id)).map(([id, s]) => [id, summarize(s)]),
    ),
    details: Object.fromEntries(extras),
    sizes,
    profiles,
    notes,
  }
  writeFileSync(join(here, 'results/latest.json'), `${JSON.stringify(json, null, 2)}\n`)
  writeFileSync(join(here, 'results/latest.md'), `# @outbox bench: latest results\n\n${md}`)
  updateReadme(md)
  const failed = figs.filter((f) => f.pass === false)
  log(`done in ${totalSeconds} s; ${figs.filter((f) => f.pass).length} targets pass, ${failed.length} fail`)
  for (const f of failed) log(`  FAIL ${f.label}: ${fmt(f.summary.median)} ${f.unit}`)
}

await main()
