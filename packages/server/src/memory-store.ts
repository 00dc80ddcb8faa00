import type { BeginResult, IdempotencyStore } from './idempotency-store.ts'
import type { AckResult } from './types.ts'

export type MemoryStoreOptions = {
  /** How long a completed key is remembered, from completion. Default 24 h. */
  ttlMs?: number
  /** Most keys kept; beyond it the least recently used completed key goes first. Default 100_000. */
  maxEntries?: number
  /**
   * How long a claim blocks its key unless renewed. `applyOnce` renews it every `leaseMs / 3`
   * while `apply` runs, so only a claim whose holder stopped (an `apply` that never settles keeps
   * renewing) runs out. Default 60 s.
   */
  leaseMs?: number
  /** Injectable clock (tests). Default `Date.now`. */
  now?: () => number
}

type Entry =
  | { state: 'claimed'; fingerprint: string; expiresAt: number; token: string }
  | { state: 'done'; fingerprint: string; expiresAt: number; result: AckResult }

/** The in-memory store, with `size` and `clear()` for tests and diagnostics. */
export type MemoryStore = IdempotencyStore & {
  /** Keys held now, expired ones not yet swept included. */
  readonly size: number
  clear(): void
}

const DAY = 24 * 60 * 60 * 1000

/**
 * An `IdempotencyStore` in this process's memory: a `Map` in least-recently-used order with a TTL
 * per entry. Right for one server process; several processes need a shared store, or a retry that
 * reaches another process applies the event again. Roughly 200 bytes per key plus the ack.
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const ttlMs = options.ttlMs ?? DAY
  const maxEntries = Math.max(1, options.maxEntries ?? 100_000)
  const leaseMs = options.leaseMs ?? 60_000
  const now = options.now ?? Date.now
  const entries = new Map<string, Entry>()
  /** Claim tokens: unique within this store, which is all a store in one process needs. */
  let claims = 0
  /**
   * A walk over `entries` from the cold end, kept from one call to the next. A fresh walk would
   * step again over every slot deleted at the front of the Map (V8 reclaims them only when it
   * resizes the table), which made each new key at the cap cost O(maxEntries): about 50x slower.
   */
  let walk: Iterator<[string, Entry]> | undefined
  /** The coldest entry the walk has reached and not passed: valid while the Map holds it unmoved. */
  let head: [string, Entry] | undefined

  const coldest = (): [string, Entry] | undefined => {
    if (head && entries.get(head[0]) === head[1]) return head
    walk ??= entries.entries()
    const step = walk.next()
    // A finished walk sees no later key: the next call starts again from the cold end.
    if (step.done) walk = head = undefined
    else head = step.value
    return head
  }

  /** Reads a live entry and marks it most recently used; drops it if expired. */
  const live = (key: string, at: number): Entry | undefined => {
    const entry = entries.get(key)
    if (!entry) return undefined
    entries.delete(key)
    // Moved to the warm end: the walk meets it again there.
    if (head?.[0] === key) head = undefined
    if (entry.expiresAt <= at) return undefined
    entries.set(key, entry)
    return entry
  }

  /** True while `token` holds an unexpired claim on `key`; an expired claim is nobody's. */
  const holds = (key: string, token: string, at: number): boolean => {
    const entry = entries.get(key)
    return entry?.state === 'claimed' && entry.token === token && entry.expiresAt > at
  }

  const evict = (at: number) => {
    // Expired entries at the cold end go first; they cost nothing to forget.
    for (let e = coldest(); e && e[1].expiresAt <= at; e = coldest()) entries.delete(e[0])
    // Claims are never evicted: forgetting one would let a concurrent retry apply the key twice.
    // A live claim met here moves to the warm end, to be looked at again once it may have expired
    // or completed; one lap at most, so a Map of nothing but claims stops the walk.
    for (let lap = entries.size; entries.size > maxEntries && lap > 0; lap--) {
      const e = coldest()
      if (!e) return
      const [key, entry] = e
      entries.delete(key)
      if (entry.state === 'claimed' && entry.expiresAt > at) entries.set(key, entry)
      head = undefined
    }
  }

  return {
    async begin(key, fingerprint): Promise<BeginResult> {
      const at = now()
      const entry = live(key, at)
      if (entry?.state === 'done') return { status: 'done', fingerprint: entry.fingerprint, result: entry.result }
      if (entry) return { status: 'in-progress', fingerprint: entry.fingerprint }
      const token = `${++claims}`
      entries.set(key, { state: 'claimed', fingerprint, expiresAt: at + leaseMs, token })
      evict(at)
      return { status: 'started', token, leaseMs }
    },
    async complete(key, token, fingerprint, result) {
      const at = now()
      if (!holds(key, token, at)) return false
      entries.delete(key)
      entries.set(key, { state: 'done', fingerprint, result, expiresAt: at + ttlMs })
      evict(at)
      return true
    },
    async abandon(key, token) {
      return holds(key, token, now()) && entries.delete(key)
    },
    async renew(key, token) {
      const at = now()
      const entry = entries.get(key)
      if (!holds(key, token, at) || !entry) return false
      entry.expiresAt = at + leaseMs
      return true
    },
    get size() {
      return entries.size
    },
    clear() {
      entries.clear()
      walk = head = undefined
    },
  }
}
