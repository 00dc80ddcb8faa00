import type { BrowserStats } from './browser.ts'
import type { NodeStats } from './node-clients.ts'
import type { Verdict } from './verify.ts'

export type Summary = {
  profile: string
  seed: number
  date: string
  runSeconds: number
  faultSeconds: number
  beacons: boolean
  bodyStalls: boolean
  node: NodeStats
  browser: BrowserStats | undefined
  requests: number
  faults: Record<string, number>
  server: { applications: number; viaBeacon: number; errors: string[] }
  ledgerDeduped: number
  verdict: Verdict
  drain: {
    ms: number
    backlog: number
    nodeMs: number | undefined
    browserMs: number | undefined
    boundMs: number
    inTime: boolean
  }
  tabDisagreements: string[]
  processErrors: string[]
  failures?: string[]
}

const n = (x: number) => x.toLocaleString('en-US')

export function formatText(s: Summary): string {
  const v = s.verdict
  const c = v.counts
  const faultTotal = Object.values(s.faults).reduce((a, b) => a + b, 0)
  const lines = [
    '',
    `chaos ${s.profile} · seed ${s.seed} · ${s.runSeconds} s (${s.faultSeconds} s of faults)`,
    `events     ${n(c.emitted)} emitted (${n(c.fromNode)} by Node clients, ${n(c.fromBrowser)} by tabs): ${n(c.durable)} durable, ${n(c.nonDurable)} typing; ${n(s.ledgerDeduped)} emits deduped onto a pending item`,
    `clients    ${s.node.clients} Node (${s.node.persistentClients} persistent), ${s.browser ? `${s.browser.tabs} tabs on ${s.browser.keys} keys` : 'no browser'}`,
    `server     ${n(s.server.applications)} applications: ${n(c.applied)} applied, ${n(c.rejected)} rejected (hard); ${n(s.server.viaBeacon)} from page-hide beacons`,
    `requests   ${n(s.requests)} through the proxy, ${n(faultTotal)} faults: ${Object.entries(s.faults)
      .map(([k, x]) => `${k} ${n(x)}`)
      .join(', ')}`,
    `network    ${n(s.node.flaps)} Node flaps, ${n(s.browser?.offlineFlaps ?? 0)} browser offline spells`,
    `lifecycle  ${n(s.browser?.reloads ?? 0)} reloads, ${n(s.browser?.closes ?? 0)} closes, ${n(s.browser?.crashes ?? 0)} crashes, ${n(s.node.restarts)} Node restarts`,
    `durable    ${n(c.confirmed)} confirmed stored or sent; tab items unconfirmed when their page went away: ${n(c.unconfirmedDelivered)} delivered anyway, ${n(c.unconfirmedLost)} lost (allowed)`,
    `typing     ${n(c.nonDurableDelivered)} delivered, ${n(c.nonDurableDropped)} dropped (coalesced or stale, allowed), ${n(v.lateNonDurable.length)} landed after a later item of their lane (an attempt their client had given up on, allowed)`,
    `drain      ${n(s.drain.ms)} ms after the faults stopped (bound ${n(s.drain.boundMs)} ms), from ${n(s.drain.backlog)} items pending in Node clients`,
    '',
    `lost ${v.lost.length} · duplicated ${v.duplicated.length} · reordered ${v.reordered.length}`,
  ]
  if (s.failures && s.failures.length > 0) lines.push('', 'FAILED:', ...s.failures.map((f) => `  - ${f}`))
  else lines.push('all invariants hold')
  return lines.join('\n')
}

export function formatMarkdown(s: Summary): string {
  const v = s.verdict
  const c = v.counts
  const rows = (pairs: Array<[string, string | number]>) =>
    pairs.map(([k, x]) => `| ${k} | ${typeof x === 'number' ? n(x) : x} |`).join('\n')
  const faultRows = Object.entries(s.faults).map(([k, x]) => [k, x] as [string, number])
  const faultTotal = faultRows.reduce((a, [, x]) => a + x, 0)
  return `# Chaos run: ${s.profile} profile

${s.date} · seed ${s.seed} · ${s.runSeconds} s in all, ${s.faultSeconds} s of faults · page-hide beacons ${s.beacons ? 'on' : 'off'}${s.bodyStalls ? ' · mid-body stalls on' : ''}

**lost ${v.lost.length} · duplicated ${v.duplicated.length} · reordered ${v.reordered.length}** · drained in ${n(s.drain.ms)} ms from a backlog of ${n(s.drain.backlog)} (bound ${n(s.drain.boundMs)} ms) · ${
    s.failures && s.failures.length > 0 ? `**FAILED**: ${s.failures.join('; ')}` : 'all invariants hold'
  }

## Events

| | |
|---|---|
${rows([
  ['emitted', c.emitted],
  ['by Node clients / by browser tabs', `${n(c.fromNode)} / ${n(c.fromBrowser)}`],
  ['durable', c.durable],
  ['typing (non-durable)', c.nonDurable],
  ['emits deduped onto a pending item', s.ledgerDeduped],
  ['server applications', s.server.applications],
  ['of them from page-hide beacons (keepalive)', s.server.viaBeacon],
  ['applied', c.applied],
  ['rejected as hard errors (= failed lists)', c.rejected],
  ['typing delivered / dropped', `${n(c.nonDurableDelivered)} / ${n(c.nonDurableDropped)}`],
  ['typing landed after a later item of their lane (allowed)', v.lateNonDurable.length],
  ['browser items unconfirmed at reload: delivered / lost', `${n(c.unconfirmedDelivered)} / ${n(c.unconfirmedLost)}`],
  ['emits refused by a full queue (maxSize 40 client)', s.node.fullRejections],
])}

## Faults injected (${n(faultTotal)} of ${n(s.requests)} requests)

| kind | count |
|---|---|
${rows(faultRows)}

## Clients and lifecycle

| | |
|---|---|
${rows([
  ['Node clients (persistent)', `${s.node.clients} (${s.node.persistentClients})`],
  ['Node network flaps', s.node.flaps],
  ['Node restarts (persistent clients)', s.node.restarts],
  ['Node pauses / flushes', `${n(s.node.pauses)} / ${n(s.node.flushes)}`],
  ['browser tabs / keys', s.browser ? `${s.browser.tabs} / ${s.browser.keys}` : 'none'],
  ['tab reloads', s.browser?.reloads ?? 0],
  ['tab closes', s.browser?.closes ?? 0],
  ['tab crashes', s.browser?.crashes ?? 0],
  ['browser offline spells', s.browser?.offlineFlaps ?? 0],
])}
`
}
