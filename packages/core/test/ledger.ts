/**
 * The bookkeeping of an idempotent test server, shared by the node-side fault server and the
 * Chromium e2e server: what was applied, how often, and in which order per lane.
 */
export function createLedger() {
  const applied = new Map<string, number>()
  const laneLog = new Map<string, string[]>()
  const results = new Map<string, Record<string, unknown>>()
  return {
    applied,
    laneLog,
    results,
    /** Applies a new event: counts it, logs it in its lane, stores and returns its ack. */
    record(e: { emitId: string; lane: string }): Record<string, unknown> {
      applied.set(e.emitId, (applied.get(e.emitId) ?? 0) + 1)
      const log = laneLog.get(e.lane) ?? []
      log.push(e.emitId)
      laneLog.set(e.lane, log)
      const ack = { ok: true, emitId: e.emitId, serverId: `s-${applied.size}` }
      results.set(e.emitId, ack)
      return ack
    },
  }
}

/** Batch: in order; within a lane, nothing after an envelope that did not succeed. */
export function applyInLaneOrder<E extends { emitId: string; lane: string }>(
  envelopes: E[],
  apply: (e: E) => Record<string, unknown>,
): Record<string, unknown>[] {
  const blocked = new Set<string>()
  return envelopes.map((e) => {
    if (blocked.has(e.lane)) return { ok: false, emitId: e.emitId, code: 'lane-blocked', retryable: true }
    const r = apply(e)
    if (r.ok !== true) blocked.add(e.lane)
    return r
  })
}
