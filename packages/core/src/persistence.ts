import { batch } from '@preact/signals-core'
import { capTo } from './capped.ts'
import { storedPolicy } from './coalesce.ts'
import type { createEmitter } from './emitter.ts'
import { idbStorage } from './idb-storage.ts'
import { electLeader, type Leadership } from './leader.ts'
import { createPersister, type Persister } from './persister.ts'
import type { Queue } from './queue.ts'
import { checkRecord, type StoredRecord, toRecord } from './record.ts'
import type { Scheduler } from './scheduler.ts'
import type { OutboxStorage } from './storage.ts'
import type { RemoteNotice, Store } from './store.ts'
import type { Clock, DeliveryError, OutboxEvents, OutboxOptions } from './types.ts'

type Context = {
  queue: Queue
  store: Store
  events: ReturnType<typeof createEmitter<OutboxEvents>>
  clock: Clock
  scheduler: Scheduler
}

/** What a follower asks of the tab that sends. */
export type Command = { op: 'discard' | 'retry'; emitId: string } | { op: 'retry-all' | 'clear' | 'flush' }

type Message =
  | { t: 'changed' }
  | { t: 'sync' }
  | { t: 'delta'; puts: Array<readonly [string, unknown]>; deletes: string[] }
  | { t: 'news'; notices: RemoteNotice[]; sent: Array<[emitId: string, attempts: number]> }
  | { t: 'cmd'; cmd: Command }
  | { t: 'emit'; record: StoredRecord }
  | { t: 'here' }

const storageError = (message: string, cause?: unknown): DeliveryError => ({
  kind: 'storage',
  message: cause instanceof Error ? `${message}: ${cause.name}: ${cause.message}` : message,
  retryable: true,
  hint: 'Items are kept in memory and will be stored again when storage works.',
})

/** How long start-up, `close()` and `clear()` wait for storage before they go on without it. */
export const LOAD_TIMEOUT_MS = 3000

/** Records in the first start-up read (so the first send starts soon), and in each later one. */
export const PAGE_SIZE = 500
export const MAX_PAGE_SIZE = 20_000

/** When the sender's queue drains, it re-reads storage, at most once per this long (see `sync`). */
export const RESYNC_MS = 10_000

/** How many settled emitIds a tab remembers, so a stale read of storage cannot revive them. */
const TOMBSTONES = 10_000

/** How many settlements a sender that was alone keeps for a tab that turns up (see `post`). */
export const SKIPPED_NOTICES = 2048

export type Persistence = {
  ready: Promise<void>
  /** True when this outbox is the one that sends for its key. */
  leading(): boolean
  /** False until start-up has read the first page of stored items (or given up waiting). */
  started(): boolean
  /** While start-up reads pages: the last emitId read; nothing after it may be sent yet. */
  watermark(): string | undefined
  /** Hands a control call to the sender; false when this outbox sends itself. */
  forward(cmd: Command): boolean
  /** Hands a non-durable emit to the sender (followers only). */
  forwardEmit(emitId: string): void
  /** The page is being hidden, and may be going away. */
  hidden(): void
  /** The page is back from the back/forward cache, where it heard no other tab. */
  restored(): void
  clear(): Promise<void>
  close(): Promise<void>
}

const memoryOnly: Persistence = {
  ready: Promise.resolve(),
  leading: () => true,
  started: () => true,
  watermark: () => undefined,
  forward: () => false,
  forwardEmit: () => {},
  hidden: () => {},
  restored: () => {},
  clear: async () => {},
  close: async () => {},
}

/**
 * `mode: 'persistent'`: loads stored items (in emitId order) before anything is sent, keeps
 * storage in step with the queue through group commit, and shares one queue between the tabs on
 * a `persistenceKey`: one leads and sends, the others store their emits, mirror storage, and
 * learn of settlements over a BroadcastChannel. A broken store never stops delivery: the outbox
 * goes on in memory and reports `storage` errors.
 */
export function openPersistence(options: OutboxOptions, ctx: Context): Persistence {
  if (options.mode !== 'persistent') return memoryOnly
  const { queue, store, events, clock, scheduler } = ctx
  const key = options.persistenceKey ?? 'outbox'
  const report = (error: DeliveryError) => events.emit('outbox:error', { error })

  let storage: OutboxStorage | undefined = options.storage
  if (!storage) {
    try {
      if (typeof indexedDB === 'undefined') throw new Error('IndexedDB is not available here')
      storage = idbStorage(key)
    } catch (error) {
      // Reported once the caller had a chance to listen.
      queueMicrotask(() => report(storageError('Cannot open storage; keeping items in memory', error)))
      return memoryOnly
    }
  }
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(`outbox:${key}`) : undefined
  let closed = false
  // A sender that knows no other outbox is open on its key (`Leadership.others`) posts nothing:
  // in the delivery loop, its one message per batch cost about a tenth of the browser's time.
  // The first message from another tab ends that; that tab may have started reading storage
  // before it was known, so it is sent the skipped settlements, and told to read storage again
  // for the rest (see `heardFrom`).
  let alone = false
  /** Unset while nothing was skipped; else the settlements among what was (maybe none). */
  let skipped: RemoteNotice[] | undefined
  /** Messages heard from other tabs: a check begun before one of them arrived is stale. */
  let heard = 0
  const post = (message: Message) => {
    if (closed || !channel) return
    if (!alone) return channel.postMessage(message)
    skipped ??= []
    if (message.t === 'news') {
      skipped.push(...message.notices)
      if (skipped.length > SKIPPED_NOTICES) skipped.splice(0, skipped.length - SKIPPED_NOTICES)
    }
  }

  const persister: Persister = createPersister(storage, {
    onError: (error) => report(storageError('Could not store outbox items; keeping them in memory', error)),
    onCommitted: (puts, deletes) => post({ t: 'delta', puts: [...puts], deletes: [...deletes] }),
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
  })

  let leading = false
  let loaded = false
  const tombstones = new Set<string>()
  const trimTombstones = capTo(tombstones, TOMBSTONES)
  const bury = (id: string) => {
    tombstones.add(id)
    trimTombstones()
  }
  const reportedBad = new Set<string>()

  /**
   * Brings the queue in step with stored records. The sender only adds what it lacks; followers
   * mirror. With `complete`, records are all of storage, so a follower also drops what is gone.
   * True when the sender found something no message had told it of.
   */
  const merge = (records: ReadonlyArray<readonly [string, unknown]>, complete: boolean): boolean => {
    const seen = complete ? new Set<string>() : undefined
    let found = false
    for (const [rawKey, value] of records) {
      const id = String(rawKey)
      const checked = checkRecord(id, value)
      if ('reason' in checked) {
        if (!reportedBad.has(id))
          report({
            kind: 'storage',
            code: 'invalid-record',
            message: `Skipped stored record ${id}: ${checked.reason}.`,
            retryable: false,
          })
        reportedBad.add(id)
        continue
      }
      const { record } = checked
      const { item } = record
      seen?.add(id)
      if (tombstones.has(id)) {
        // Settled, but still stored: its delete is on its way, or was lost (the sender that acked it
        // closed first, and this tab learnt of the ack from its notice). Delete it (again): else a
        // tab that opens later shows it pending for good.
        // Its delete's delta tells the other tabs: no need to count it as found.
        if (leading) persister.delete(id, true)
        continue
      }
      const entry = queue.get(id)
      if (item.status === 'failed') {
        if (entry && !leading) queue.fail(id, item.error)
        else if (!entry && !queue.failedItems.has(id)) {
          queue.addFailed(item)
          found ||= leading
        }
        continue
      }
      if (entry) {
        if (!leading && !persister.unwritten(id)) {
          const { status, attempts, nextAttemptAt, lastError } = item
          queue.update(id, { status, attempts, nextAttemptAt, lastError })
        }
        continue
      }
      if (queue.failedItems.has(id)) {
        if (leading) continue
        queue.removeFailed(id)
      }
      found ||= leading
      queue.add({
        // An item stored mid-flight was not acked: it goes again, under the same emitId.
        item: leading && item.status === 'sending' ? { ...item, status: 'queued' } : item,
        policy: storedPolicy(record.coalesceKey, record.ttlMs),
        ageFrom: record.ageFrom ?? item.createdAt,
        failSeq: 0,
      })
    }
    if (leading || !complete) return found
    // Durable items gone from storage were settled by the sender.
    for (const [id, entry] of queue.entries())
      if (entry.policy.durable && !seen?.has(id) && !persister.unwritten(id)) queue.remove(id)
    for (const id of [...queue.failedItems.keys()])
      if (!seen?.has(id) && !persister.unwritten(id) && !store.isVolatileFailed(id)) queue.removeFailed(id)
    return false
  }

  const load = async (complete: boolean): Promise<boolean> => {
    let records: Array<[string, unknown]>
    try {
      records = await (storage as OutboxStorage).load()
    } catch (error) {
      report(storageError('Could not read stored outbox items', error))
      return false
    }
    return batch(() => merge(records, complete))
  }

  /** Another tab wrote these records: apply them without reading storage again. */
  const applyDelta = (puts: ReadonlyArray<readonly [string, unknown]>, deletes: readonly string[]) => {
    batch(() => {
      merge(puts, false)
      if (leading) return
      for (const id of deletes) {
        if (persister.unwritten(id)) continue
        const entry = queue.get(id)
        if (entry?.policy.durable) queue.remove(id)
        else if (!entry && !store.isVolatileFailed(id)) queue.removeFailed(id)
      }
    })
    if (leading) scheduler.schedule()
  }

  // One read of storage at a time; changes announced meanwhile cause exactly one more.
  // The sender learns of other tabs' emits from the message each sends once its write commits.
  // A tab that closes or crashes between the commit and that message leaves a stored item no
  // one announced, so the sender also re-reads storage when another tab starts or hides, and
  // when its own queue drains (at most once per RESYNC_MS: a drain sooner than that re-reads when
  // the time is up, so the last drain of a busy spell is never skipped).
  let syncing: Promise<void> | null = null
  let again = false
  let syncedAt = Number.NEGATIVE_INFINITY
  let syncAfterLoad = false
  /** Another tab asked for a read while this one was starting and did not lead (see onmessage). */
  let heardSync = false
  const sync = () => {
    // Start-up is still reading, perhaps from before the change: one more read once it is done.
    if (!loaded) {
      syncAfterLoad = true
      return
    }
    syncedAt = clock.now()
    if (syncing) {
      again = true
      return
    }
    syncing = load(true)
      .then((found) => {
        // What the sender learnt only from storage, the other tabs may not know either (the tab that
        // wrote it died before its message, which was all they would have heard): they read again.
        if (found && leading) post({ t: 'changed' })
      })
      .finally(() => {
        syncing = null
        if (leading) scheduler.schedule()
        if (again) {
          again = false
          sync()
        }
      })
  }

  let resyncTimer: unknown
  const resync = () => {
    const wait = syncedAt + RESYNC_MS - clock.now()
    if (wait <= 0) return sync()
    resyncTimer ??= clock.setTimeout(() => {
      resyncTimer = undefined
      if (leading && !closed) sync()
    }, wait)
  }

  // Settlements of the sender are announced; a follower's own echo of them is not. What settles
  // and what goes in flight in one tick (a batch acked, the next one sent) is one message.
  let mirroring = false
  let news: Extract<Message, { t: 'news' }> | undefined
  const tell = () => {
    if (!news) {
      news = { t: 'news', notices: [], sent: [] }
      queueMicrotask(() => {
        post(news as Message)
        news = undefined
      })
    }
    return news
  }
  const announce = (notice: RemoteNotice) => {
    // Failed items stay stored (until retried or discarded), so only acks and drops are final.
    if (notice.kind !== 'failed') bury(notice.emitId)
    if (leading && !mirroring) tell().notices.push(notice)
  }
  store.setPersister(persister, (sent) => tell().sent.push(...sent))
  const offs = [
    events.on('outbox:acked', ({ envelope, ack }) => announce({ kind: 'acked', emitId: envelope.emitId, ack })),
    events.on('outbox:dropped', ({ envelope, reason }) =>
      announce({ kind: 'dropped', emitId: envelope.emitId, reason }),
    ),
    events.on('outbox:failed', ({ envelope, error }) =>
      announce({ kind: 'failed', envelope, error, attempts: queue.failedItems.get(envelope.emitId)?.attempts ?? 0 }),
    ),
    events.on('outbox:flushed', () => {
      persister.flush() // the acks' deletes (see LAZY_DELETE_MS): nothing is left to wait for
      checkAlone() // the other tabs may have closed
      // A drain while start-up still reads (the loaded pages are sent, the next is on its way) needs
      // no read of its own: start-up's is one.
      if (leading && loaded) resync()
    }),
  ]

  const run = (cmd: Command) => {
    if (cmd.op === 'discard') store.drop(cmd.emitId, 'discarded')
    else if (cmd.op === 'retry') store.retry(cmd.emitId, clock.now())
    else if (cmd.op === 'retry-all') for (const id of [...queue.failedItems.keys()]) store.retry(id, clock.now())
    else if (cmd.op === 'flush') void scheduler.flush()
    else if (cmd.op === 'clear') void api.clear()
    scheduler.schedule()
  }

  /** Another tab is open: a sender that thought itself alone posts again, and hands on what it skipped. */
  const heardFrom = () => {
    heard++
    if (!alone) return
    alone = false
    const missed = skipped
    skipped = undefined
    if (!missed) return
    if (missed.length > 0) post({ t: 'news', notices: missed, sent: [] })
    post({ t: 'changed' })
  }
  /** A sender asks whether any other outbox is open on its key; none, and it stops posting. */
  const checkAlone = () => {
    if (!leading || alone || closed || !channel) return
    const asked = heard
    leadership.others().then(
      (others) => {
        if (!others && asked === heard && leading && !closed) alone = true
      },
      () => {},
    )
  }

  if (channel)
    channel.onmessage = ({ data }: MessageEvent<Message>) => {
      heardFrom()
      if (data?.t === 'changed' || (data?.t === 'sync' && leading)) sync()
      // No tab leads (the lock is passing), or this one is still starting: if it ends up leading
      // once started, it reads again, since what it is reading may predate what the message is about.
      else if (data?.t === 'sync' && !loaded) heardSync = true
      else if (data?.t === 'delta') {
        if (buffered) buffered.push(data)
        else applyDelta(data.puts, data.deletes)
      } else if (data?.t === 'news' && !leading && Array.isArray(data.notices) && Array.isArray(data.sent)) {
        mirroring = true
        try {
          batch(() => {
            for (const notice of data.notices) {
              if (notice.kind !== 'failed') bury(notice.emitId) // even if this tab never saw it
              store.applyRemote(notice)
            }
            for (const [id, attempts] of data.sent)
              if (Number.isInteger(attempts) && queue.get(id) && !persister.unwritten(id))
                queue.update(id, { status: 'sending', attempts })
          })
        } finally {
          mirroring = false
        }
      } else if (data?.t === 'cmd' && leading) batch(() => run(data.cmd))
      else if (data?.t === 'emit' && leading) {
        const checked = checkRecord(data.record.item.emitId, data.record)
        if ('record' in checked && !queue.get(checked.record.item.emitId) && checked.record.item.status !== 'failed')
          store.add({
            item: checked.record.item,
            policy: {
              coalesceKey: checked.record.coalesceKey,
              ttlMs: checked.record.ttlMs,
              durable: false,
              holdUntil: 0,
            },
            ageFrom: checked.record.ageFrom ?? checked.record.item.createdAt,
            failSeq: 0,
          })
        scheduler.schedule()
      }
    }

  // A blocked or hung IndexedDB must not hold delivery hostage: after LOAD_TIMEOUT_MS the outbox
  // starts from memory, and stored items join whenever the read completes.
  // Start-up reads storage in pages, in emitId order. Sending starts after the first page, but only
  // up to the last key read (the watermark): anything after it, stored or newly emitted, could
  // have an earlier item of its lane in a page still to come.
  let buffered: Array<Extract<Message, { t: 'delta' }>> | null = []
  let watermark: string | undefined
  let started = false
  const start = () => {
    if (started) return
    started = true
    scheduler.schedule()
  }
  const loadInPages = async () => {
    const loadPage = storage.loadPage?.bind(storage)
    if (!loadPage) return load(false)
    // The first page is small, so the first send starts soon; later pages are large, because every
    // read costs a round trip to the database: 10 000 stored items take two reads. Each read is
    // asked for before the page before it is merged, so the database reads while this tab checks.
    let size = PAGE_SIZE
    let next = loadPage(undefined, size)
    for (;;) {
      let page: Array<[string, unknown]>
      try {
        page = await next
      } catch (error) {
        report(storageError('Could not read stored outbox items', error))
        return
      }
      const more = page.length === size
      const after = more ? String((page[page.length - 1] as [string, unknown])[0]) : undefined
      if (more) next = loadPage(after, (size = MAX_PAGE_SIZE))
      batch(() => merge(page, false))
      if (!more) return
      watermark = after
      start()
    }
  }
  const ready = new Promise<void>((resolve) => {
    // A blocked or hung IndexedDB must not hold delivery hostage.
    const timer = clock.setTimeout(() => {
      report(storageError(`Stored items did not load within ${LOAD_TIMEOUT_MS} ms; starting without them`))
      watermark = undefined
      start()
      resolve()
    }, LOAD_TIMEOUT_MS)
    void loadInPages().then(() => {
      clock.clearTimeout(timer)
      watermark = undefined
      loaded = true
      // Deltas that arrived during the first read may be newer than what it saw.
      for (const d of buffered ?? []) applyDelta(d.puts, d.deletes)
      buffered = null
      syncedAt = clock.now()
      // A new tab may have read items that no tab announced (see `sync`): the sender looks again.
      if (!leading) post({ t: 'sync' })
      if (syncAfterLoad || (heardSync && leading)) sync()
      start()
      scheduler.schedule()
      resolve()
    })
  })

  const leadership: Leadership = electLeader(
    key,
    (value) => {
      leading = value
      if (!value) return
      checkAlone()
      // Taking over: what the last sender had in flight (mirrored here) goes again, before this
      // tab sends anything. A takeover after start-up reads storage once more.
      batch(() => {
        for (const [id, entry] of queue.entries())
          if (entry.item.status === 'sending') queue.update(id, { status: 'queued' })
      })
      if (loaded) sync()
      scheduler.schedule()
    },
    clock,
  )

  /** Waits for storage, but not for a write that never settles: sign-out and close must finish. */
  const settled = (work: Promise<void>) =>
    new Promise<void>((resolve) => {
      const timer = clock.setTimeout(() => {
        report(storageError(`Storage did not finish writing within ${LOAD_TIMEOUT_MS} ms`))
        resolve()
      }, LOAD_TIMEOUT_MS)
      void work.then(() => {
        clock.clearTimeout(timer)
        resolve()
      })
    })

  const api: Persistence = {
    ready,
    leading: () => leading,
    started: () => started,
    watermark: () => watermark,
    forward(cmd) {
      if (leading || !channel) return false
      post({ t: 'cmd', cmd })
      return true
    },
    hidden() {
      persister.flush()
      // A write this page has begun reaches IndexedDB before the sender's read, which starts only
      // once the message arrives; the second message covers a write still to begin, in a page that
      // stays alive (a tab moved to the background).
      if (leading || !channel) return
      post({ t: 'sync' })
      void persister.idle().then(() => post({ t: 'sync' }))
    },
    restored() {
      if (leading || !loaded) return
      // It missed messages, or a sender that thought itself alone skipped them: it reads storage,
      // and tells the sender it is here.
      sync()
      post({ t: 'here' })
    },
    forwardEmit(emitId) {
      const entry = queue.get(emitId)
      if (!leading && channel && entry) post({ t: 'emit', record: toRecord(entry) })
    },
    async clear() {
      persister.drop()
      await settled(persister.idle())
      try {
        await (storage as OutboxStorage).clear()
        post({ t: 'changed' })
      } catch (error) {
        report(storageError('Could not clear stored outbox items', error))
      }
    },
    async close() {
      await settled(persister.idle())
      closed = true
      clock.clearTimeout(resyncTimer)
      leadership.close()
      for (const off of offs) off()
      channel?.close()
    },
  }
  return api
}
