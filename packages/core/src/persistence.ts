import { batch } from '@preact/signals-core'
import type { Emitter } from './emitter.ts'
import { storageError } from './errors.ts'
import { createGroupCommit, type GroupCommit } from './group-commit.ts'
import type { Host } from './host.ts'
import { idbStorage } from './idb-storage.ts'
import type { Queue } from './queue.ts'
import { createReconciler } from './reconcile.ts'
import { toRecord } from './record.ts'
import type { SenderLock } from './sender-lock.ts'
import type { RemoteNotice, Settlement } from './settlement.ts'
import { LOAD_TIMEOUT_MS, loadAtStart, type Startup } from './startup.ts'
import type { OutboxStorage } from './storage.ts'
import { createStorageSync, type StorageSync } from './storage-sync.ts'
import { type Command, type Delta, openTabChannel, type TabChannel } from './tab-channel.ts'
import type { Clock, DeliveryError, OutboxEvents, OutboxOptions } from './types.ts'

export type { Command } from './tab-channel.ts'

/** What persistence tells the engine, and what it asks of it (wired by `createOutbox`). */
export interface Persistence {
  readonly ready: Promise<void>
  /** True when this outbox holds the sender lock for its key. */
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
  /** Called when there may be something new to send (wire the scheduler here). */
  onWake(fn: () => void): void
  /** Called with each command another tab forwarded to this one, the sender. */
  onCommand(fn: (cmd: Command) => void): void
  clear(): Promise<void>
  close(): Promise<void>
}

const memoryOnly = (): Persistence => ({
  ready: Promise.resolve(),
  leading: () => true,
  started: () => true,
  watermark: () => undefined,
  forward: () => false,
  forwardEmit: () => {},
  hidden: () => {},
  restored: () => {},
  onWake: () => {},
  onCommand: () => {},
  clear: async () => {},
  close: async () => {},
})

type Context = { queue: Queue; settlement: Settlement; events: Emitter<OutboxEvents>; host: Host }

/** The store for `persistenceKey`: the given one, or IndexedDB; undefined where there is none. */
function openStorage(options: OutboxOptions, report: (error: DeliveryError) => void): OutboxStorage | undefined {
  if (options.storage) return options.storage
  try {
    if (typeof indexedDB === 'undefined') throw new Error('IndexedDB is not available here')
    return idbStorage(options.persistenceKey ?? 'outbox')
  } catch (error) {
    // Reported once the caller had a chance to listen.
    queueMicrotask(() => report(storageError('Cannot open storage; keeping items in memory', error)))
    return undefined
  }
}

/**
 * `mode: 'persistent'`: loads stored items (in emitId order) before anything is sent, keeps
 * storage in step with the queue through group commit, and shares one queue between the tabs on
 * a `persistenceKey`: one holds the sender lock and sends, the others store their emits, mirror
 * storage, and learn of settlements over the tab channel. A broken store never stops delivery: the
 * outbox goes on in memory and reports `storage` errors. Composes the parts; each owns one concern.
 */
export function openPersistence(options: OutboxOptions, ctx: Context): Persistence {
  const report = (error: DeliveryError) => ctx.events.emit('outbox:error', { error })
  const store = options.mode === 'persistent' ? openStorage(options, report) : undefined
  if (!store) return memoryOnly()
  const { queue, settlement, events, host } = ctx
  const key = options.persistenceKey ?? 'outbox'
  let leading = false
  let wake = () => {}
  let runCommand: (cmd: Command) => void = () => {}

  const commit = createGroupCommit(store, {
    onError: (error) => report(storageError('Could not store outbox items; keeping them in memory', error)),
    onCommitted: (puts, deletes) => tabs.post({ t: 'delta', puts, deletes }),
    setTimeout: (fn, ms) => host.clock.setTimeout(fn, ms),
  })
  const reconciler = createReconciler(queue, settlement, commit, () => leading, report)
  const applyDelta = ({ puts, deletes }: Delta) => {
    reconciler.applyDelta(puts, deletes)
    if (leading) wake()
  }
  /** Deltas heard while start-up reads: applied once it is done, since they may be newer. */
  let buffered: Delta[] | null = []
  /** Another tab asked for a read while this one was starting and did not lead. */
  let heardSync = false

  const storageSync = createStorageSync({
    clock: host.clock,
    read: () =>
      store.load().then(
        (records) => batch(() => reconciler.merge(records, true)),
        (error) => {
          report(storageError('Could not read stored outbox items', error))
          return false
        },
      ),
    loaded: () => startup.loaded(),
    leading: () => leading,
    onFound: () => tabs.post({ t: 'changed' }),
    onRead: () => wake(),
  })
  const startup = loadAtStart(store, {
    clock: host.clock,
    merge: (records) => reconciler.merge(records, false),
    report,
    onStart: () => wake(),
    onLoaded() {
      for (const delta of buffered ?? []) applyDelta(delta)
      buffered = null
      // A new tab may have read items that no tab announced (see `sync`): the sender looks again.
      if (!leading) tabs.post({ t: 'sync' })
      if (storageSync.afterLoad() || (heardSync && leading)) storageSync.sync()
      wake()
    },
  })
  const tabs = openTabChannel(host, key, {
    leading: () => leading,
    others: () => lock.others(),
    handlers: {
      changed: () => storageSync.sync(),
      syncRequested() {
        if (leading) storageSync.sync()
        // No tab leads (the lock is passing), or this one is still starting: if it ends up leading
        // once started, it reads again, since what it is reading may predate what the message is about.
        else if (!startup.loaded()) heardSync = true
      },
      delta: (delta) => (buffered ? buffered.push(delta) : applyDelta(delta)),
      news: (news) => leading || reconciler.news(news),
      command: (cmd) => leading && batch(() => runCommand(cmd)),
      emit(record) {
        if (!leading) return
        reconciler.adopt(record)
        wake()
      },
    },
  })
  const lock = host.senderLock(key, (value) => {
    leading = value
    if (!value) return
    tabs.checkAlone()
    // Taking over: what the last sender had in flight (mirrored here) goes again, before this
    // tab sends anything. A takeover after start-up reads storage once more.
    settlement.requeueInFlight()
    if (startup.loaded()) storageSync.sync()
    wake()
  })

  settlement.setStorage(commit, (sent) => tabs.sent(sent))
  const offs = announceSettlements(events, queue, (notice) => {
    // Failed items stay stored (until retried or discarded), so only acks and drops are final.
    if (notice.kind !== 'failed') reconciler.bury(notice.emitId)
    // Settlements of the sender are announced; a follower's own echo of them is not.
    if (leading && !reconciler.mirroring()) tabs.notice(notice)
  })
  offs.push(
    events.on('outbox:flushed', () => {
      commit.flush() // the acks' deletes (see LAZY_DELETE_MS): nothing is left to wait for
      tabs.checkAlone() // the other tabs may have closed
      // A drain while start-up still reads (the loaded pages are sent, the next is on its way) needs
      // no read of its own: start-up's is one.
      if (leading && startup.loaded()) storageSync.resync()
    }),
  )

  return front(
    { store, commit, startup, storageSync, tabs, lock, queue, report, clock: host.clock, offs },
    {
      leading: () => leading,
      onWake: (fn) => void (wake = fn),
      onCommand: (fn) => void (runCommand = fn),
    },
  )
}

type Parts = {
  store: OutboxStorage
  commit: GroupCommit
  startup: Startup
  storageSync: StorageSync
  tabs: TabChannel
  lock: SenderLock
  queue: Queue
  report: (error: DeliveryError) => void
  clock: Clock
  offs: Array<() => void>
}

/** The face persistence shows the engine, over its parts. */
function front(parts: Parts, wiring: Pick<Persistence, 'leading' | 'onWake' | 'onCommand'>): Persistence {
  const { store, commit, startup, storageSync, tabs, lock, queue, report, clock } = parts
  const { leading } = wiring
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
  return {
    ...wiring,
    ready: startup.ready,
    started: startup.started,
    watermark: startup.watermark,
    forward(cmd) {
      if (leading() || !tabs.connected) return false
      tabs.post({ t: 'cmd', cmd })
      return true
    },
    hidden() {
      commit.flush()
      // A write this page has begun reaches IndexedDB before the sender's read, which starts only
      // once the message arrives; the second message covers a write still to begin, in a page that
      // stays alive (a tab moved to the background).
      if (leading() || !tabs.connected) return
      tabs.post({ t: 'sync' })
      void commit.idle().then(() => tabs.post({ t: 'sync' }))
    },
    restored() {
      if (leading() || !startup.loaded()) return
      // It missed messages, or a sender that thought itself alone skipped them: it reads storage,
      // and tells the sender it is here.
      storageSync.sync()
      tabs.post({ t: 'here' })
    },
    forwardEmit(emitId) {
      const entry = queue.get(emitId)
      if (!leading() && tabs.connected && entry) tabs.post({ t: 'emit', record: toRecord(entry) })
    },
    async clear() {
      commit.drop()
      await settled(commit.idle())
      try {
        await store.clear()
        tabs.post({ t: 'changed' })
      } catch (error) {
        report(storageError('Could not clear stored outbox items', error))
      }
    },
    async close() {
      await settled(commit.idle())
      storageSync.close()
      lock.close()
      for (const off of parts.offs) off()
      tabs.close()
    },
  }
}

/** Calls `announce` with each settlement this outbox makes or mirrors; returns the detaches. */
function announceSettlements(
  events: Emitter<OutboxEvents>,
  queue: Queue,
  announce: (notice: RemoteNotice) => void,
): Array<() => void> {
  return [
    events.on('outbox:acked', ({ envelope, ack }) => announce({ kind: 'acked', emitId: envelope.emitId, ack })),
    events.on('outbox:dropped', ({ envelope, reason }) =>
      announce({ kind: 'dropped', emitId: envelope.emitId, reason }),
    ),
    events.on('outbox:failed', ({ envelope, error }) =>
      announce({ kind: 'failed', envelope, error, attempts: queue.failedItems.get(envelope.emitId)?.attempts ?? 0 }),
    ),
  ]
}
