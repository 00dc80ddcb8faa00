/**
 * A quick look at the delivery loop alone (development): the bare fetch loop and the outbox's
 * loops, interleaved, PROBE_REPS times; prints medians of each ratio to the bare loop.
 * `BENCH_SOURCE=1 npx tsx --conditions=source probe-loop.ts` (PROBE_REPS, PROBE_N,
 * PROBE_ONLY=memKy,stored,rawRange; rawEach and rawRange are the hand-written persistent loops).
 * Besides the rates, it reads the CPU time all Chromium processes used per item over exactly the
 * timed part (a steadier figure than the rate on a shared machine); PROBE_SPLIT=1 also prints it
 * per kind of process. Other modes: PROBE_PROFILE=<variant> (a CPU profile), PROBE_COUNT=1 (tab
 * messages and IndexedDB transactions of one loop over stored items).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { bundleBrowserSuite } from './lib/bundle.ts'
import { chromiumCpuByKind } from './lib/cpu.ts'
import { byModule, type CpuProfile, inclusive, topFunctions } from './lib/profile.ts'
import { startServer } from './lib/server.ts'

const REPS = Number(process.env.PROBE_REPS ?? 7)
const N = Number(process.env.PROBE_N ?? 5000)
const only = process.env.PROBE_ONLY?.split(',')
const bundle = await bundleBrowserSuite()
const { url, server } = await startServer(bundle.code)
const dir = mkdtempSync(join(os.tmpdir(), 'probe-'))
const ctx = await chromium.launchPersistentContext(dir, {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic'],
  headless: true,
})
const page = ctx.pages()[0] ?? (await ctx.newPage())
page.on('console', (m) => console.log('page:', m.text()))
/** CPU seconds by kind of Chromium process, and this process's (the server's) µs. */
type Cpu = { kinds: Record<string, number>; server: number }
const cpuNow = (): Cpu => {
  const u = process.cpuUsage()
  return { kinds: chromiumCpuByKind(), server: u.user + u.system }
}
/** µs per item between two readings: each kind of Chromium process, their sum (`cpu`), and the server. */
const perItem = (a: Cpu, b: Cpu): Record<string, number> => {
  const out: Record<string, number> = { cpu: 0, srv: (b.server - a.server) / N }
  for (const [kind, s] of Object.entries(b.kinds)) {
    const us = ((s - (a.kinds[kind] ?? 0)) * 1e6) / N
    out.cpu = (out.cpu as number) + us
    out[kind] = us
  }
  return out
}
/** Readings the suite asks for at both ends of a measurement (its `profileStart` / `profileEnd`). */
let marks: Cpu[] = []
await page.exposeFunction('probeMark', () => void marks.push(cpuNow()))
await page.goto(url)
const call = (name: string, ...args: unknown[]) =>
  page.evaluate(
    ([n, a]) => (globalThis as unknown as { bench: Record<string, (...x: unknown[]) => unknown> }).bench[n]?.(...a),
    [name, args] as const,
  ) as Promise<{ rate: number }>
/** The delivery loop (`deliver` in the suite): persistent, httpTransport, 50 per POST unless `extra` says. */
const deliver = async (extra: Record<string, unknown>) =>
  (await call('deliver', { from: 'resume', transport: 'ky', n: N, batch: 50, mode: 'persistent', ...extra })).rate
/** Over items emitted in the session, then resumed. */
const resumed = (extra: Record<string, unknown>) => () => deliver(extra)
/** A fresh key with N items stored by an outbox that has closed. */
const seeded = async (tag: string) => {
  const key = `probe-${tag}-${Math.random()}`
  await call('seedOutbox', key, N, 'c1')
  return key
}
/** The suite's persistent loop by hand over a fresh seeded key, deleting per key or per batch. */
const byHand = (deletes: 'each' | 'range') => async (rep: number) =>
  (await call('rawPersistentLoop', await seeded(`${deletes}${rep}`), 50, deletes)).rate
const variants: Record<string, (rep: number) => Promise<number>> = {
  memKy: resumed({ mode: 'memory' }),
  persResume: resumed({}),
  persNone: resumed({ storage: 'none' }),
  persNoBc: resumed({ whatIf: { noBroadcast: true } }),
  persNoneNoBc: resumed({ storage: 'none', whatIf: { noBroadcast: true } }),
  stored: async (rep) => deliver({ from: 'stored', key: await seeded(String(rep)) }),
  rawEach: byHand('each'),
  rawRange: byHand('range'),
}
const variant = (name: string) => {
  const run = variants[name]
  if (!run) throw new Error(`no variant ${name}; there are ${Object.keys(variants).join(', ')}`)
  return run
}

/** Medians of each variant's ratio to the bare loops around it, its rate and its CPU per item. */
async function rates() {
  const figures: Record<string, number[]> = {}
  const add = (name: string, value: number) => (figures[name] ??= []).push(value)
  const addCpu = (name: string, us: Record<string, number>) => {
    for (const [kind, v] of Object.entries(us))
      if (kind === 'cpu' || kind === 'srv' || process.env.PROBE_SPLIT) add(`${name}.${kind}Us`, v)
  }
  await call('bareLoop', 1000, 50)
  for (let rep = 0; rep < REPS; rep++) {
    for (const [name, run] of Object.entries(variants)) {
      if (only && !only.includes(name)) continue
      const c0 = cpuNow()
      const b1 = (await call('bareLoop', N, 50)).rate
      const c1 = cpuNow()
      marks = []
      const r = await run(rep)
      const [m1, m2] = marks as [Cpu, Cpu]
      const b2 = (await call('bareLoop', N, 50)).rate
      add(name, r / ((b1 + b2) / 2))
      add(`${name}.rate`, r)
      addCpu(name, perItem(m1, m2))
      addCpu('bare', perItem(c0, c1))
    }
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] as number
  for (const [k, v] of Object.entries(figures))
    console.log(k.padEnd(20), med(v).toFixed(3), v.map((x) => x.toFixed(2)).join(' '))
}

/** One CPU profile of a variant's timed part. */
async function profile(name: string) {
  const run = variant(name)
  await call('bareLoop', 1000, 50)
  await run(0)
  const cdp = await ctx.newCDPSession(page)
  await cdp.send('Profiler.enable')
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 })
  const got = new Promise<CpuProfile>((resolve) =>
    cdp.on('Profiler.consoleProfileFinished', (e) => resolve(e.profile as unknown as CpuProfile)),
  )
  await call('setProfiling', true)
  await run(1)
  const profile = await got
  const moduleOf = (u: string, line: number) => (u.endsWith('/bench.js') ? bundle.moduleAt(line) : u)
  const top = topFunctions(profile, 30, moduleOf)
  console.log(`sampled ${top.totalMs.toFixed(0)} ms`)
  for (const m of byModule(profile, moduleOf)) console.log(m.module.padEnd(24), m.ms.toFixed(1).padStart(8))
  for (const r of top.rows)
    console.log(
      r.fn.slice(0, 40).padEnd(40),
      (r.module ?? '').padEnd(20),
      r.where.padEnd(16),
      r.selfMs.toFixed(1).padStart(8),
    )
  const names = (process.env.PROBE_FNS ?? 'settle,pump,send,commit,post,readJson,deleteKeys,merge').split(',')
  console.log(inclusive(profile, names))
}

/** The tab messages (by type, with their JSON size) and IndexedDB transactions of one loop over stored items. */
async function countMessages() {
  const key = await seeded('count')
  await page.evaluate(`(() => {
    const c = (globalThis.__counts = {})
    const count = (k, bytes) => {
      const e = (c[k] ??= { n: 0, bytes: 0 })
      e.n++
      e.bytes += bytes
    }
    const post = BroadcastChannel.prototype.postMessage
    BroadcastChannel.prototype.postMessage = function (m) {
      count(this.name + ':' + (m && m.t), JSON.stringify(m).length)
      return post.call(this, m)
    }
    const transaction = IDBDatabase.prototype.transaction
    IDBDatabase.prototype.transaction = function (s, mode, o) {
      count('tx:' + (mode || 'readonly'), 0)
      return transaction.call(this, s, mode, o)
    }
  })()`)
  await deliver({ from: 'stored', key })
  console.log(await page.evaluate('globalThis.__counts'))
}

try {
  if (process.env.PROBE_COUNT) await countMessages()
  else if (process.env.PROBE_PROFILE) await profile(process.env.PROBE_PROFILE)
  else await rates()
} finally {
  await ctx.close()
  rmSync(dir, { recursive: true, force: true })
  server.close()
}
