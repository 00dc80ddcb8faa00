import { batch } from '@preact/signals-core'
import { storageError } from './errors.ts'
import type { OutboxStorage } from './storage.ts'
import type { Clock, DeliveryError } from './types.ts'

/** How long start-up, `close()` and `clear()` wait for storage before they go on without it. */
export const LOAD_TIMEOUT_MS = 3000

/** Records in the first start-up read (so the first send starts soon), and in each later one. */
export const PAGE_SIZE = 500
export const MAX_PAGE_SIZE = 20_000

export interface Startup {
  /** Resolves once every stored item is loaded, or LOAD_TIMEOUT_MS passed. */
  readonly ready: Promise<void>
  /** False until the first page of stored items was read (or start-up gave up waiting). */
  started(): boolean
  /** While pages are still being read: the last emitId read; nothing after it may be sent yet. */
  watermark(): string | undefined
  /** True once every page was read. */
  loaded(): boolean
}

/**
 * Reads stored items at start-up, in pages, in emitId order. Sending starts after the first page,
 * but only up to the last key read (the watermark): anything after it, stored or newly emitted,
 * could have an earlier item of its lane in a page still to come. A blocked or hung IndexedDB must
 * not hold delivery hostage: after LOAD_TIMEOUT_MS the outbox starts from memory, and stored items
 * join whenever the read completes.
 */
export function loadAtStart(
  storage: OutboxStorage,
  ctx: {
    clock: Clock
    merge: (records: ReadonlyArray<readonly [string, unknown]>) => void
    report: (error: DeliveryError) => void
    /** Sending may start (the first page is in, or start-up gave up waiting). */
    onStart: () => void
    /** Every page is in. */
    onLoaded: () => void
  },
): Startup {
  let watermark: string | undefined
  let started = false
  let loaded = false
  const start = () => {
    if (started) return
    started = true
    ctx.onStart()
  }

  const loadInPages = async () => {
    // The first page is small, so the first send starts soon; later pages are large, because every
    // read costs a round trip to the database: 10 000 stored items take two reads. Each read is
    // asked for before the page before it is merged, so the database reads while this tab checks.
    // A storage without `loadPage` is read in one go.
    const loadPage = storage.loadPage?.bind(storage)
    let size = PAGE_SIZE
    let next = loadPage ? loadPage(undefined, size) : storage.load()
    for (;;) {
      let page: Array<[string, unknown]>
      try {
        page = await next
      } catch (error) {
        ctx.report(storageError('Could not read stored outbox items', error))
        return
      }
      const more = loadPage !== undefined && page.length === size
      const after = more ? String((page[page.length - 1] as [string, unknown])[0]) : undefined
      if (more) next = loadPage(after, (size = MAX_PAGE_SIZE))
      batch(() => ctx.merge(page))
      if (!more) return
      watermark = after
      start()
    }
  }

  const ready = new Promise<void>((resolve) => {
    const timer = ctx.clock.setTimeout(() => {
      ctx.report(storageError(`Stored items did not load within ${LOAD_TIMEOUT_MS} ms; starting without them`))
      watermark = undefined
      start()
      resolve()
    }, LOAD_TIMEOUT_MS)
    void loadInPages().then(() => {
      ctx.clock.clearTimeout(timer)
      watermark = undefined
      loaded = true
      ctx.onLoaded()
      start()
      resolve()
    })
  })

  return { ready, started: () => started, watermark: () => watermark, loaded: () => loaded }
}
