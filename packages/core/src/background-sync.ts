import { effect, type ReadonlySignal } from '@preact/signals-core'
import type { Host } from './host.ts'
import type { Queue } from './queue.ts'
import type { Clock } from './types.ts'

/**
 * The Background Sync tag of the outbox on `persistenceKey`: what a page registers with
 * `backgroundSync: true`, and what the service worker's `sync` handler recognises.
 */
export const syncTag = (persistenceKey: string): string => `outbox:${persistenceKey}`

/** The queue is looked at most once per this long (it may hold thousands of items). */
export const SYNC_CHECK_MS = 250

export interface BackgroundSync {
  /** The page may be going away: any undelivered durable item is reason enough. */
  hidden(): void
  close(): void
}

/**
 * `backgroundSync: true`: while durable items stay undelivered because the page is offline, a
 * send failed (the item waits for its retry) or the page hides, the sync tag is registered, so
 * the browser wakes the service worker to deliver them once it is online, open page or not. One
 * registration per spell: it is registered again only after the queue was empty.
 */
export function watchBackgroundSync(ctx: {
  queue: Queue
  clock: Clock
  /** The host's `registerSync`; undefined where there is none, or Background Sync is off. */
  register: Host['registerSync']
  online: ReadonlySignal<boolean>
  tag: string
}): BackgroundSync {
  const { queue, clock, register, online, tag } = ctx
  let registered = false
  let timer: unknown
  if (!register) return { hidden() {}, close() {} }

  /** Whether a durable item waits for a reason Background Sync can end. */
  const stuck = (hidden: boolean): boolean => {
    const offline = !online.peek()
    for (const { item, policy } of queue.entries().values())
      if (policy.durable && (hidden || offline || item.status === 'waiting')) return true
    return false
  }
  const clearTimer = () => {
    if (timer !== undefined) clock.clearTimeout(timer)
    timer = undefined
  }
  const check = (hidden = false) => {
    clearTimer()
    if (registered && !hidden) return
    if (!stuck(hidden)) return
    registered = true
    // Where it cannot be registered (no service worker yet, no SyncManager), nothing is lost: the
    // items stay stored, and the next page or worker on the key sends them.
    register(tag).then(
      (done) => void (registered &&= done),
      () => void (registered = false),
    )
  }

  const stop = effect(() => {
    const size = queue.size.value
    queue.version.value
    online.value
    if (size === 0) registered = false
    else if (!registered && timer === undefined) timer = clock.setTimeout(check, SYNC_CHECK_MS)
  })

  return {
    hidden: () => check(true),
    close() {
      stop()
      clearTimer()
    },
  }
}
