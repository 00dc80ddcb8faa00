import type { OutboxStorage } from './storage.ts'

/**
 * How long the delete of an acked item may wait for company. Acks come one batch at a time, and a
 * transaction costs the same for one key as for a run of them: in Chromium, committing each batch's
 * deletes on its own made the persistent delivery loop about 40% slower than committing nothing.
 * Losing such a delete (the page dies first) only means a resend, which the server deduplicates.
 */
export const LAZY_DELETE_MS = 100

/** The write side of storage: puts and deletes that group-commit. */
export interface GroupCommit {
  put(key: string, record: unknown): void
  /** With `lazy` (an ack), the delete may wait for company (see LAZY_DELETE_MS). */
  delete(key: string, lazy?: boolean): void
  /** Commits lazy changes now (the queue drained, the page is hiding). */
  flush(): void
  /** Resolves when every change made so far is written, or at once while the store is failing. */
  idle(): Promise<void>
  /** Forgets unwritten changes (the caller is clearing the store). */
  drop(): void
  /** True while a change to `key` is not yet written. */
  unwritten(key: string): boolean
}

export type GroupCommitOptions = {
  onError: (error: unknown) => void
  /** Each write that went through, with what it wrote (other tabs are told). */
  onCommitted?: (puts: ReadonlyArray<readonly [string, unknown]>, deletes: readonly string[]) => void
  setTimeout: (fn: () => void, ms: number) => unknown
}

/** A failed write is tried again after this long (its changes are kept meanwhile). */
const RETRY_MS = 5_000

/**
 * Group commit over an `OutboxStorage`: at most one write transaction in flight; everything that
 * changes meanwhile goes into the next one, and only its latest value is written. A failed write
 * keeps its changes and retries later, so nothing is dropped while storage is unavailable. Lazy
 * deletes (acks) wait up to LAZY_DELETE_MS for the next write, or for `flush()`.
 */
export function createGroupCommit(storage: OutboxStorage, options: GroupCommitOptions): GroupCommit {
  /** emitId → record to put, or null to delete. */
  let dirty = new Map<string, unknown>()
  let writing: Promise<void> | null = null
  let writingKeys: ReadonlyMap<string, unknown> = new Map()
  let scheduled = false
  /** Something changed that must not wait (a put, a delete that is not lazy), or the wait is over. */
  let urgent = false
  let lazyTimer = false
  let failing = false
  let idleWaiters: Array<() => void> = []

  const releaseIdle = () => {
    const waiters = idleWaiters
    idleWaiters = []
    for (const resolve of waiters) resolve()
  }
  const settleIdle = () => {
    if (!writing && !scheduled && dirty.size === 0) releaseIdle()
  }

  const commit = () => {
    scheduled = false
    if (writing || dirty.size === 0) return settleIdle()
    const batch = dirty
    dirty = new Map()
    urgent = false
    const puts: Array<readonly [string, unknown]> = []
    const deletes: string[] = []
    for (const [key, value] of batch) value === null ? deletes.push(key) : puts.push([key, value])
    writingKeys = batch
    writing = storage.write(puts, deletes).then(
      () => {
        writing = null
        writingKeys = new Map()
        options.onCommitted?.(puts, deletes)
        failing = false
        if (urgent) schedule()
        else wait()
        settleIdle()
      },
      (error: unknown) => {
        writing = null
        writingKeys = new Map()
        // Newer changes win over the failed batch's.
        for (const [key, value] of batch) if (!dirty.has(key)) dirty.set(key, value)
        if (!failing) {
          failing = true
          options.onError(error)
        }
        // Writers waiting for idle must not hang on a broken store: they see what could be done.
        releaseIdle()
        options.setTimeout(() => schedule(), RETRY_MS)
      },
    )
  }

  function schedule() {
    if (scheduled || writing || dirty.size === 0) return
    scheduled = true
    queueMicrotask(commit)
  }

  /** Only lazy changes are dirty: commit them with the next write, or after LAZY_DELETE_MS. */
  function wait() {
    if (lazyTimer || dirty.size === 0) return
    lazyTimer = true
    options.setTimeout(() => {
      lazyTimer = false
      flush()
    }, LAZY_DELETE_MS)
  }

  function flush() {
    urgent = true
    schedule()
  }

  return {
    put(key: string, record: unknown): void {
      dirty.set(key, record)
      flush()
    },
    /** With `lazy` (an ack), the delete may wait for company (see LAZY_DELETE_MS). */
    delete(key: string, lazy = false): void {
      dirty.set(key, null)
      if (!lazy) flush()
      else if (!writing && !scheduled) wait()
    },
    /** Commits lazy changes now (the queue drained, the page is hiding). */
    flush,
    /** Resolves when every change made so far is written, or at once while the store is failing. */
    idle(): Promise<void> {
      // A broken store is retried on its own timer; waiting for it would hang close().
      if (!writing && (failing || (!scheduled && dirty.size === 0))) return Promise.resolve()
      flush()
      return new Promise((resolve) => idleWaiters.push(resolve))
    },
    /** Forgets unwritten changes (the caller is clearing the store). */
    drop(): void {
      dirty = new Map()
    },
    /** True while a change to `key` is not yet written. */
    unwritten: (key: string): boolean => dirty.has(key) || writingKeys.has(key),
  }
}
