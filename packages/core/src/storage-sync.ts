import type { Clock } from './types.ts'

/** When the sender's queue drains, it re-reads storage, at most once per this long (see `resync`). */
export const RESYNC_MS = 10_000

export interface StorageSync {
  /** Reads all of storage again now (or once the read in progress is done). */
  sync(): void
  /** After a drain: reads storage again, at most once per RESYNC_MS. */
  resync(): void
  /** A read was asked for before start-up finished: done once it has. */
  afterLoad(): boolean
  close(): void
}

/**
 * Re-reads of storage. One read at a time; changes announced meanwhile cause exactly one more.
 * The sender learns of other tabs' emits from the message each sends once its write commits. A
 * tab that closes or crashes between the commit and that message leaves a stored item no one
 * announced, so the sender also re-reads storage when another tab starts or hides, and when its
 * own queue drains (at most once per RESYNC_MS: a drain sooner than that re-reads when the time
 * is up, so the last drain of a busy spell is never skipped).
 */
export function createStorageSync(ctx: {
  clock: Clock
  /** Reads all of storage into the queue; true when the sender found what no message told it of. */
  read: () => Promise<boolean>
  loaded: () => boolean
  leading: () => boolean
  /** The sender found unannounced records: the other tabs may not know them either. */
  onFound: () => void
  /** A read is done: there may be something to send. */
  onRead: () => void
}): StorageSync {
  const { clock } = ctx
  let syncing: Promise<void> | null = null
  let again = false
  let syncedAt = -Infinity
  let pendingAtLoad = false
  let timer: unknown
  let closed = false

  const sync = () => {
    // Start-up is still reading, perhaps from before the change: one more read once it is done.
    if (!ctx.loaded()) {
      pendingAtLoad = true
      return
    }
    syncedAt = clock.now()
    if (syncing) {
      again = true
      return
    }
    syncing = ctx
      .read()
      .then((found) => {
        // What the sender learnt only from storage, the other tabs may not know either (the tab that
        // wrote it died before its message, which was all they would have heard): they read again.
        if (found && ctx.leading()) ctx.onFound()
      })
      .finally(() => {
        syncing = null
        if (ctx.leading()) ctx.onRead()
        if (again) {
          again = false
          sync()
        }
      })
  }

  return {
    sync,
    resync() {
      const wait = syncedAt + RESYNC_MS - clock.now()
      if (wait <= 0) return sync()
      timer ??= clock.setTimeout(() => {
        timer = undefined
        if (ctx.leading() && !closed) sync()
      }, wait)
    },
    afterLoad() {
      syncedAt = clock.now()
      return pendingAtLoad
    },
    close() {
      closed = true
      clock.clearTimeout(timer)
    },
  }
}
