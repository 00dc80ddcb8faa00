/**
 * A quick look at the delivery loop alone (development): the bare fetch loop and the outbox's
 * loops, interleaved, PROBE_REPS times; prints medians of each ratio to the bare loop.
 * `BENCH_SOURCE=1 npx tsx --conditions=source probe-loop.ts` (PROBE_REPS, PROBE_N, PROBE_ONLY=memKy,stored;
 * PROBE_PROFILE=stored for a CPU profile; PROBE_COUNT=1 to count tab messages and transactions).
 * Besides the rates, it reads the CPU time all Chromium processes used per item over exactly the
 * timed part (a steadier figure than the rate on a shared machine).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { bundleBrowserSuite } from './lib/bundle.ts'
import { chromiumCpu, chromiumCpuByKind } from './lib/cpu.ts'
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
let marks: Array<{ c: number; s: number; k?: Record<string, number> }> = []
const split = process.env.PROBE_SPLIT
await page.exposeFunction('probeMark', () => {
  const u = process.cpuUsage()
  marks.push({ c: chromiumCpu(), s: u.user + u.system, ...(split ? { k: chromiumCpuByKind() } : {}) })
})
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
/** Teardown, also after a profile. */
const finish = async () => {
  await ctx.close()
  rmSync(dir, { recursive: true, force: true })
  server.close()
}
const variants: Record<string, (rep: number) => Promise<number>> = {
  memKy: resumed({ mode: 'memory' }),
  persResume: resumed({}),
  persNone: resumed({ storage: 'none' }),
  persNoBc: resumed({ whatIf: { noBroadcast: true } }),
  persNoneNoBc: resumed({ storage: 'none', whatIf: { noBroadcast: true } }),
  stored: async (rep) => {
    const key = `probe-${rep}-${Math.random()}`
    await call('seedOutbox', key, N, 'c1')
    return deliver({ from: 'stored', key })
  },
}
// PROBE_SPLIT=<variant>: CPU µs per item of each kind of Chromium process (renderer, browser,
// network and storage services), for the bare loop and for that variant, PROBE_REPS times.
if (split) {
  const run = variants[split]
  if (!run) throw new Error(`no variant ${split}`)
  const perItem = (a: Record<string, number>, b: Record<string, number>) =>
    Object.fromEntries(Object.keys(b).map((k) => [k, Math.round((((b[k] ?? 0) - (a[k] ?? 0)) * 1e6) / N)]))
  await call('bareLoop', 1000, 50)
  for (let rep = 0; rep < REPS; rep++) {
    const c0 = chromiumCpuByKind()
    await call('bareLoop', N, 50)
    const c1 = chromiumCpuByKind()
    marks = []
    await run(rep)
    const [m1, m2] = marks as Array<{ k: Record<string, number> }>
    console.log('bare   ', JSON.stringify(perItem(c0, c1)))
    console.log('variant', JSON.stringify(perItem(m1?.k ?? {}, m2?.k ?? {})))
  }
  await finish()
  process.exit(0)
}
// PROBE_COUNT=1: counts the tab messages (by type, with their JSON size) and IndexedDB transactions
// of one loop over N stored items.
if (process.env.PROBE_COUNT) {
  await page.evaluate(`(() => {
    const c = (globalThis.__bc = {})
    const orig = BroadcastChannel.prototype.postMessage
    BroadcastChannel.prototype.postMessage = function (m) {
      const k = this.name + ':' + (m && m.t)
      const e = (c[k] ??= { n: 0, bytes: 0 })
      e.n++
      e.bytes += JSON.stringify(m).length
      return orig.call(this, m)
    }
    const ot = IDBDatabase.prototype.transaction
    IDBDatabase.prototype.transaction = function (s, mode, o) {
      const k = 'tx:' + (mode || 'readonly')
      const e = (c[k] ??= { n: 0, bytes: 0 })
      e.n++
      return ot.call(this, s, mode, o)
    }
  })()`)
  const key = `count-${Math.random()}`
  await call('seedOutbox', key, N, 'c1')
  await page.evaluate('for (const k in globalThis.__bc) delete globalThis.__bc[k]')
  await deliver({ from: 'stored', key })
  console.log(await page.evaluate('globalThis.__bc'))
  await finish()
  process.exit(0)
}
// PROBE_PROFILE=name: one CPU profile of that variant's timed part instead of the rates.
const profiled = process.env.PROBE_PROFILE
if (profiled) {
  const run = variants[profiled]
  if (!run) throw new Error(`no variant ${profiled}`)
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
  await finish()
  process.exit(0)
}
const ratios: Record<string, number[]> = {}
await call('bareLoop', 1000, 50)
for (let rep = 0; rep < REPS; rep++) {
  for (const [name, run] of Object.entries(variants)) {
    if (only && !only.includes(name)) continue
    const c0 = chromiumCpu()
    const s0 = process.cpuUsage()
    const b1 = (await call('bareLoop', N, 50)).rate
    const c1 = chromiumCpu()
    const s1 = process.cpuUsage()
    marks = []
    const r = await run(rep)
    const [m1, m2] = marks as [{ c: number; s: number }, { c: number; s: number }]
    const b2 = (await call('bareLoop', N, 50)).rate
    ;(ratios[name] ??= []).push(r / ((b1 + b2) / 2))
    ;(ratios[`${name}.rate`] ??= []).push(r)
    ;(ratios[`${name}.cpuUs`] ??= []).push(((m2.c - m1.c) * 1e6) / N)
    ;(ratios[`${name}.srvUs`] ??= []).push((m2.s - m1.s) / N)
    ;(ratios['bare.cpuUs'] ??= []).push(((c1 - c0) * 1e6) / N)
    ;(ratios['bare.srvUs'] ??= []).push((s1.user + s1.system - s0.user - s0.system) / N)
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] as number
for (const [k, v] of Object.entries(ratios))
  console.log(k.padEnd(16), med(v).toFixed(3), v.map((x) => x.toFixed(2)).join(' '))
await finish()
