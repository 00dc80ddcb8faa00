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

  /** Reads a live entry and marks it most recently used; drops it if expired. */
  const live = (key: string, at: number): Entry | undefined => {
    const entry = entries.get(key)
    if (!entry) return undefined
    entries.delete(key)
    if (entry.expiresAt <= at) return undefined
    entries.set(key, entry)
    return entry
  }

  const evict = (at: number) => {
    // Expired entries at the cold end go first; they cost nothing to forget.
    for (const [key, entry] of entries) {
      if (entry.expiresAt > at) break
      entries.delete(key)
    }
    if (entries.size <= maxEntries) return
    // Claims are never evicted: forgetting one would let a concurrent retry apply the key twice.
    for (const [key, entry] of entries) {
      if (entries.size <= maxEntries) return
      if (entry.state === 'done' || entry.expiresAt <= at) entries.delete(key)
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
    },
  }
}
