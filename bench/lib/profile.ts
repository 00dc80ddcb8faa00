/** Aggregates a V8 CPU profile (Chrome DevTools protocol `Profiler.stop` result) by function. */
export type CpuProfile = {
  nodes: Array<{
    id: number
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
    hitCount?: number
    children?: number[]
  }>
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

export type ProfileRow = { fn: string; where: string; module?: string; selfMs: number; share: number }

/** Self time per function (ms), largest first; `(idle)` and `(program)` are kept so shares add up. */
export function topFunctions(
  profile: CpuProfile,
  limit = 20,
  moduleOf?: (url: string, line: number) => string,
): { totalMs: number; rows: ProfileRow[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  // timeDeltas[i] is the time before sample i; attribute each interval to the sample that ends it.
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] as number
    self.set(id, (self.get(id) ?? 0) + ((deltas[i + 1] ?? deltas[i] ?? 0) as number) / 1000)
  }
  const grouped = new Map<string, { fn: string; where: string; module?: string; selfMs: number }>()
  for (const [id, ms] of self) {
    const node = byId.get(id)
    if (!node) continue
    const { functionName, url, lineNumber } = node.callFrame
    const file = url ? (url.split('/').pop() ?? url) : ''
    const fn = functionName || '(anonymous)'
    const where = file ? `${file}:${lineNumber + 1}` : ''
    const key = `${fn}@${where}`
    const row = grouped.get(key) ?? {
      fn,
      where,
      ...(moduleOf && url ? { module: moduleOf(url, lineNumber) } : {}),
      selfMs: 0,
    }
    row.selfMs += ms
    grouped.set(key, row)
  }
  const totalMs = [...grouped.values()].reduce((s, r) => s + r.selfMs, 0)
  const rows = [...grouped.values()]
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, limit)
    .map((r) => ({ ...r, share: totalMs > 0 ? r.selfMs / totalMs : 0 }))
  return { totalMs, rows }
}

/**
 * Inclusive time (ms) of each named function: every sample whose stack contains it, counted once
 * per sample however deep the recursion.
 */
export function inclusive(
  profile: CpuProfile,
  names: readonly string[],
  inScope: (url: string, line: number) => boolean = () => true,
): Record<string, number> {
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const wanted = new Set(names)
  const out: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]))
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  for (let i = 0; i < samples.length; i++) {
    const ms = ((deltas[i + 1] ?? deltas[i] ?? 0) as number) / 1000
    const seen = new Set<string>()
    for (let id: number | undefined = samples[i]; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)?.callFrame
      const name = frame?.functionName ?? ''
      if (wanted.has(name) && !seen.has(name) && frame && inScope(frame.url, frame.lineNumber)) {
        seen.add(name)
        out[name] = (out[name] ?? 0) + ms
      }
    }
  }
  return out
}

/**
 * Time per module: each sample goes to the innermost JavaScript frame that has a source location,
 * so native work (IndexedDB put, postMessage, JSON) counts for the module that called it.
 * `(idle)`, `(program)` and `(garbage collector)` stay as they are.
 */
export function byModule(
  profile: CpuProfile,
  moduleOf: (url: string, line: number) => string,
): Array<{ module: string; ms: number; share: number }> {
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const out = new Map<string, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  let total = 0
  for (let i = 0; i < samples.length; i++) {
    const ms = ((deltas[i + 1] ?? deltas[i] ?? 0) as number) / 1000
    total += ms
    let name: string | undefined
    const leaf = byId.get(samples[i] as number)
    const leafName = leaf?.callFrame.functionName ?? ''
    if (leafName.startsWith('(') && !leaf?.callFrame.url) name = leafName
    for (let id: number | undefined = samples[i]; id !== undefined && !name; id = parent.get(id)) {
      const f = byId.get(id)?.callFrame
      if (f?.url) name = moduleOf(f.url, f.lineNumber)
    }
    name ??= '(native, no JS caller)'
    out.set(name, (out.get(name) ?? 0) + ms)
  }
  return [...out].map(([module, ms]) => ({ module, ms, share: total > 0 ? ms / total : 0 })).sort((a, b) => b.ms - a.ms)
}
