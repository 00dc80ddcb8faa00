import type { BeginResult, IdempotencyStore } from './idempotency-store.ts'
import type { AckResult } from './types.ts'

export type MemoryStoreOptions = {
  /** How long a completed key is remembered, from completion. Default 24 h. */
  ttlMs?: number
  /** Most keys kept; beyond it the least recently used completed key goes first. Default 100_000. */
  maxEntries?: number
  /** How long an unfinished claim blocks its key (an `apply` that never settles). Default 60 s. */
  leaseMs?: number
  /** Injectable clock (tests). Default `Date.now`. */
  now?: () => number
}

type Entry =
  | { state: 'claimed'; fingerprint: string; expiresAt: number }
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
      entries.set(key, { state: 'claimed', fingerprint, expiresAt: at + leaseMs })
      evict(at)
      return { status: 'started' }
    },
    async complete(key, fingerprint, result) {
      const at = now()
      entries.delete(key)
      entries.set(key, { state: 'done', fingerprint, result, expiresAt: at + ttlMs })
      evict(at)
    },
    async abandon(key) {
      if (entries.get(key)?.state === 'claimed') entries.delete(key)
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
