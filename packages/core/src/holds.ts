import type { Entry } from './queue.ts'

/**
 * When a failed item may go again. Two kinds of wait: a backoff, which `flush()`, a reconnect and
 * the breaker closing cut short, and the server's `Retry-After`, which nothing cuts short
 * (shared/API.md: "never retried sooner than it says"). A `Retry-After` holds its item, and so
 * its lane; other lanes go on.
 */
export interface Holds {
  /** A failed attempt: the item waits until `at`. Returns the failure's number (`Entry.failSeq`). */
  failed(emitId: string, at: number, retryAfter: boolean): number
  /** Cuts every backoff wait so far short. */
  cut(): void
  /** When `entry` may go: its backoff (unless cut or skipped) and its `Retry-After`. */
  readyAt(entry: Entry, skipBackoff: boolean): number
  /** Forgets deadlines that passed, or whose items are gone. */
  prune(now: number, pending: (emitId: string) => boolean): void
}

export function createHolds(): Holds {
  let seq = 0
  /** Failures numbered up to this skip their backoff wait. */
  let cutoff = 0
  /** emitId → the server's `Retry-After` deadline. */
  const notBefore = new Map<string, number>()

  /**
   * A `Retry-After` deadline. Items loaded from storage (`failSeq` 0) lost the in-memory one, so a
   * stored 429/503 keeps its `nextAttemptAt`: at worst that is a backoff wait kept once more.
   */
  const throttledUntil = (entry: Entry): number => {
    const at = notBefore.get(entry.item.emitId)
    if (at !== undefined) return at
    const e = entry.item.lastError
    return entry.failSeq === 0 && e?.kind === 'http' && (e.code === 429 || e.code === 503)
      ? (entry.item.nextAttemptAt ?? 0)
      : 0
  }

  return {
    failed(emitId, at, retryAfter) {
      if (retryAfter) notBefore.set(emitId, at)
      else notBefore.delete(emitId)
      return ++seq
    },
    cut() {
      cutoff = seq
    },
    readyAt(entry, skipBackoff) {
      const backoffUntil = !skipBackoff && entry.failSeq > cutoff ? (entry.item.nextAttemptAt ?? 0) : 0
      return Math.max(backoffUntil, throttledUntil(entry))
    },
    prune(now, pending) {
      if (notBefore.size > 0) for (const [id, at] of notBefore) if (at <= now || !pending(id)) notBefore.delete(id)
    },
  }
}
