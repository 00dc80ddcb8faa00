import type { Ledger } from './ledger.ts'
import type { Server } from './server.ts'

export type Verdict = {
  /** Durable, confirmed items the server never saw, gone from every client. */
  lost: string[]
  /** Durable items the server never saw that a client still holds as pending (a drain failure). */
  stuck: string[]
  /** emitIds the server applied (or rejected) more than once, with the count. */
  duplicated: Array<{ emitId: string; times: number }>
  /** Applications that came after a later-emitted item of the same lane. */
  reordered: Array<{ lane: string; emitId: string; after: string; beacon: { emitId: boolean; after: boolean } }>
  /**
   * Typing events applied after a later item of their lane (allowed): a typing event may be dropped
   * as stale or coalesced after an attempt timed out, and that attempt can still reach the server
   * later, from a proxy that delayed it. A durable item is never dropped, and is sent again until
   * acked, so its first application always comes before anything after it in its lane.
   */
  lateNonDurable: Array<{ lane: string; emitId: string; after: string }>
  /** Applications of emitIds no client reported emitting. */
  unknown: string[]
  /** Items in a failed list that the server did not reject, and rejected items missing from it. */
  failedMismatch: { unexpected: string[]; missing: string[] }
  counts: {
    emitted: number
    fromNode: number
    fromBrowser: number
    durable: number
    nonDurable: number
    confirmed: number
    unconfirmedDelivered: number
    unconfirmedLost: number
    applied: number
    rejected: number
    nonDurableDelivered: number
    nonDurableDropped: number
  }
}

/**
 * The invariants, checked against what the server recorded:
 * - every durable confirmed item was applied (or rejected) exactly once: lost 0, duplicated 0;
 * - each lane's applications follow emit order: reordered 0;
 * - the failed lists hold exactly the items the server rejected as hard errors.
 */
export function verify(
  ledger: Ledger,
  server: Pick<Server, 'byId' | 'laneLog' | 'viaBeacon'>,
  failedIds: Set<string>,
  pendingIds: Set<string>,
): Verdict {
  const lost: string[] = []
  const stuck: string[] = []
  const duplicated: Verdict['duplicated'] = []
  const reordered: Verdict['reordered'] = []
  const lateNonDurable: Verdict['lateNonDurable'] = []
  const unknown: string[] = []
  const unexpected: string[] = []
  const missing: string[] = []
  const counts: Verdict['counts'] = {
    emitted: ledger.items.size,
    fromNode: 0,
    fromBrowser: 0,
    durable: 0,
    nonDurable: 0,
    confirmed: 0,
    unconfirmedDelivered: 0,
    unconfirmedLost: 0,
    applied: 0,
    rejected: 0,
    nonDurableDelivered: 0,
    nonDurableDropped: 0,
  }

  for (const [emitId, app] of server.byId) {
    const times = app.applied + app.rejected
    if (times > 1) duplicated.push({ emitId, times })
    if (!ledger.items.has(emitId)) unknown.push(emitId)
    if (app.applied > 0) counts.applied++
    if (app.rejected > 0) counts.rejected++
  }

  for (const item of ledger.items.values()) {
    if (item.source === 'node') counts.fromNode++
    else counts.fromBrowser++
    const app = server.byId.get(item.emitId)
    const seen = app !== undefined && app.applied + app.rejected > 0
    if (!item.durable) {
      counts.nonDurable++
      if (seen) counts.nonDurableDelivered++
      else counts.nonDurableDropped++
      continue
    }
    counts.durable++
    if (item.confirmed) {
      counts.confirmed++
      if (!seen) (pendingIds.has(item.emitId) ? stuck : lost).push(item.emitId)
    } else if (seen) counts.unconfirmedDelivered++
    else counts.unconfirmedLost++
    const rejected = (app?.rejected ?? 0) > 0
    if (rejected !== item.reject && seen)
      unexpected.push(`${item.emitId} (reject flag ${item.reject}, server rejected ${rejected})`)
    if (rejected && !failedIds.has(item.emitId) && !pendingIds.has(item.emitId)) missing.push(item.emitId)
  }
  for (const id of failedIds) if ((server.byId.get(id)?.rejected ?? 0) === 0) unexpected.push(id)

  for (const [lane, log] of server.laneLog) {
    const order = new Map((ledger.lanes.get(lane) ?? []).map((id, i) => [id, i]))
    let maxIndex = -1
    let maxId = ''
    for (const id of log) {
      const index = order.get(id)
      if (index === undefined) continue
      if (index < maxIndex && ledger.items.get(id)?.durable === false)
        lateNonDurable.push({ lane, emitId: id, after: maxId })
      else if (index < maxIndex)
        reordered.push({
          lane,
          emitId: id,
          after: maxId,
          beacon: { emitId: server.viaBeacon.has(id), after: server.viaBeacon.has(maxId) },
        })
      else {
        maxIndex = index
        maxId = id
      }
    }
  }

  return {
    lost,
    stuck,
    duplicated,
    reordered,
    lateNonDurable,
    unknown,
    failedMismatch: { unexpected, missing },
    counts,
  }
}
