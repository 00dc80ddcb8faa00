/** A seeded PRNG (mulberry32), so a run's decisions can be replayed by seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export type Random = {
  (): number
  /** Integer in [min, max]. */
  int(min: number, max: number): number
  chance(p: number): boolean
  pick<T>(items: readonly T[]): T
}

export function random(seed: number): Random {
  const next = prng(seed)
  const r = (() => next()) as Random
  r.int = (min, max) => min + Math.floor(next() * (max - min + 1))
  r.chance = (p) => next() < p
  r.pick = (items) => items[Math.floor(next() * items.length)] as never
  return r
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `condition` every `everyMs` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 25) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await condition()) return true
    if (Date.now() >= deadline) return false
    await sleep(everyMs)
  }
}
