/**
 * The browser half of the suite. Bundled with esbuild into the bench page; `run.ts` calls these
 * functions through `page.evaluate(() => window.bench.<name>(...))`, one measurement per call.
 * Every function builds its own fresh database (unique name) so runs never see each other's data.
 */

import {
  createOutbox,
  type EmitEnvelope,
  httpTransport,
  idbStorage,
  type Outbox,
  type OutboxOptions,
  type OutboxStorage,
  type Transport,
} from '@outbox/core'
import { createCollection, localOnlyCollectionOptions } from '@tanstack/db'
import { IndexedDBAdapter, startOfflineExecutor, WebLocksLeader } from '@tanstack/offline-transactions'
import { createStore, delMany, get, keys, promisifyRequest, set, setMany, type UseStore } from 'idb-keyval'
import { Queue } from 'workbox-background-sync'
import { fetchTransport } from '../lib/fetch-transport.ts'
import { chatPayload } from '../lib/payload.ts'

const API = '/api/events'
const now = () => performance.now()
let counter = 0
const uniq = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`
const rate = (n: number, ms: number) => (n / ms) * 1000

/**
 * CPU profiles of exactly the timed part: when the runner turns profiling on (and has the DevTools
 * Profiler enabled), `console.profile` / `console.profileEnd` bracket the measurement.
 */
let profiling = false
/** A hook for development probes (a binding the probe exposes), called at both ends of a measurement. */
const probeMark = (at: 'start' | 'end') => (globalThis as { probeMark?: (at: string) => Promise<void> }).probeMark?.(at)
const profileStart = () => {
  if (profiling) console.profile('bench')
  void probeMark('start')
}
const profileEnd = () => {
  if (profiling) console.profileEnd('bench')
  void probeMark('end')
}
const setProfiling = (on: boolean) => {
  profiling = on
}

/** A transport that never answers: items stay pending (used where only persistence is timed). */
const silent = (maxBatch = 1): Transport & { firstAt: number; calls: number } => {
  const t = {
    maxBatch,
    firstAt: 0,
    calls: 0,
    send: () => {
      t.calls++
      if (t.firstAt === 0) t.firstAt = now()
      return new Promise<never>(() => {})
    },
  }
  return t
}

const payloads = (n: number, chatId = 'c1') => Array.from({ length: n }, (_, i) => chatPayload(i, undefined, chatId))

/** `n` real envelopes (the library's own ULIDs and shape), made by a paused memory outbox. */
async function envelopes(n: number, chatId = 'c1'): Promise<EmitEnvelope[]> {
  const o = createOutbox({ transport: silent(), maxSize: n + 1 })
  o.pause()
  const list = payloads(n, chatId).map((p) => o.emit('user:message', p))
  await o.close()
  return list
}

/** The record the outbox stores for a fresh item (see packages/core/src/record.ts). */
const toRecord = (e: EmitEnvelope) => ({ v: 1, item: { ...e, status: 'queued', attempts: 0 }, ageFrom: e.createdAt })

async function freshStore(prefix: string): Promise<UseStore> {
  const store = createStore(uniq(prefix), 'items')
  await get('warm-up', store) // opens (creates) the database outside the timed part
  return store
}

/** 'idb': the outbox's own idbStorage; 'first-put-only': the same minus rewrites; 'none': no storage at all. */
type StorageVariant = 'idb' | 'first-put-only' | 'none'

type Counter = {
  writes: number
  /** Puts of a key already written (and not deleted) before: status updates. */
  rewrites: number
  puts: number
  deletes: number
  largestWrite: number
  /** Every `load()` the outbox made: when it started and ended (ms after the counter was made). */
  loads: Array<{ kind: 'full' | 'page'; startMs: number; ms: number; records: number }>
  until(pred: () => boolean): Promise<void>
}

/**
 * The outbox's own IndexedDB storage (`idbStorage`), wrapped to count what each group commit
 * carried and to tell when a number of records is committed (transaction `complete`).
 */
function counting(key: string, variant: StorageVariant = 'idb'): { storage: OutboxStorage; c: Counter } {
  const inner: OutboxStorage =
    variant === 'none' ? { load: async () => [], write: async () => {}, clear: async () => {} } : idbStorage(key)
  /** Keys written and not deleted since this counter was made (to spot rewrites of a record). */
  const written = new Set<string>()
  let waiters: Array<{ pred: () => boolean; resolve: () => void }> = []
  const check = () => {
    waiters = waiters.filter((w) => {
      if (!w.pred()) return true
      w.resolve()
      return false
    })
  }
  const made = now()
  const c: Counter = {
    writes: 0,
    rewrites: 0,
    puts: 0,
    deletes: 0,
    largestWrite: 0,
    loads: [],
    until: (pred) =>
      pred()
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            waiters.push({ pred, resolve })
          }),
  }
  const storage: OutboxStorage = {
    async load() {
      const t0 = now()
      const records = await inner.load()
      c.loads.push({ kind: 'full', startMs: t0 - made, ms: now() - t0, records: records.length })
      return records
    },
    // Paged start-up reads pass through (and are counted) when the core's storage has them.
    ...(inner.loadPage
      ? {
          async loadPage(after: string | undefined, limit: number) {
            const t0 = now()
            const records = await (inner.loadPage as NonNullable<OutboxStorage['loadPage']>)(after, limit)
            c.loads.push({ kind: 'page', startMs: t0 - made, ms: now() - t0, records: records.length })
            return records
          },
        }
      : {}),
    async write(puts, deletes) {
      c.writes++
      c.largestWrite = Math.max(c.largestWrite, puts.length + deletes.length)
      const fresh = puts.filter(([k]) => !written.has(k))
      c.rewrites += puts.length - fresh.length
      for (const [k] of puts) written.add(k)
      for (const k of deletes) written.delete(k)
      // 'first-put-only' drops rewrites of a stored record (status, attempts): what a core that
      // does not persist the transient 'sending' state would write.
      await inner.write(variant === 'first-put-only' ? fresh : puts, deletes)
      c.puts += puts.length
      c.deletes += deletes.length
      check()
    },
    clear: () => inner.clear(),
  }
  return { storage, c }
}

const storedCount = async (key: string) => (await keys(createStore(`outbox:${key}`, 'items'))).length

/** Runs `fn(i)` for i < n, each call in its own task (MessageChannel: no 4 ms timer clamp). */
function perTask(n: number, fn: (i: number) => void): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel()
    let i = 0
    port1.onmessage = () => {
      fn(i++)
      if (i < n) port2.postMessage(0)
      else {
        port1.close()
        resolve()
      }
    }
    port2.postMessage(0)
  })
}

// ---------------------------------------------------------------------------------------------
// Raw IndexedDB (idb-keyval): the ceilings and floors our figures are compared with.

/** Awaiting one idb-keyval `set` per item: the naive per-item floor. */
async function rawPerItemSet(n: number) {
  const records = (await envelopes(n)).map(toRecord)
  const store = await freshStore('raw-set')
  const t0 = now()
  for (const r of records) await set(r.item.emitId, r, store)
  const ms = now() - t0
  return { n, ms, rate: rate(n, ms) }
}

/** The same records in one transaction (`setMany`): the ceiling for a burst. */
async function rawBurst(n: number) {
  const records = (await envelopes(n)).map(toRecord)
  const store = await freshStore('raw-burst')
  const t0 = now()
  let putMs = 0
  // What idb-keyval's setMany does, with the synchronous put() loop (structured clone) timed apart.
  await store('readwrite', (s) => {
    for (const r of records) s.put(r, r.item.emitId)
    putMs = now() - t0
    return promisifyRequest(s.transaction)
  })
  const ms = now() - t0
  return { n, ms, putMs, rate: rate(n, ms) }
}

/**
 * The ceiling for emits arriving one per task: a minimal hand-written group commit over idb-keyval
 * (records built beforehand; one write transaction in flight, everything that arrives meanwhile
 * goes into the next one), fed by the same MessageChannel task loop as the outbox figure.
 */
async function rawGroupCommit(n: number) {
  const records = (await envelopes(n)).map(toRecord)
  const store = await freshStore('raw-group')
  let pending: Array<(typeof records)[number]> = []
  let writing = false
  let committed = 0
  let writes = 0
  let done!: () => void
  const all = new Promise<void>((r) => (done = r))
  const flush = () => {
    if (writing || pending.length === 0) return
    const batch = pending
    pending = []
    writing = true
    writes++
    store('readwrite', (s) => {
      for (const r of batch) s.put(r, r.item.emitId)
      return promisifyRequest(s.transaction)
    }).then(() => {
      writing = false
      committed += batch.length
      if (committed >= n) done()
      else flush()
    })
  }
  const t0 = now()
  profileStart()
  await perTask(n, (i) => {
    pending.push(records[i] as (typeof records)[number])
    queueMicrotask(flush)
  })
  await all
  const ms = now() - t0
  profileEnd()
  return { n, ms, rate: rate(n, ms), writes }
}

/** The anti-pattern: the whole queue as one array under one key, rewritten on every append. */
async function arrayRewrite(size: number, appends: number) {
  const records = (await envelopes(size + appends)).map(toRecord)
  const store = await freshStore('raw-array')
  const queue = records.slice(0, size)
  await set('queue', queue, store)
  const t0 = now()
  for (let i = 0; i < appends; i++) {
    queue.push(records[size + i] as (typeof records)[number])
    await set('queue', queue, store)
  }
  const ms = now() - t0
  return { size, appends, ms, rate: rate(appends, ms) }
}

const BIG = 'bench-getall'

/** Seeds (once per profile) a store with `n` records for the read figures. */
async function seedBig(n: number) {
  const store = createStore(BIG, 'items')
  const have = (await keys(store)).length
  if (have >= n) return { seeded: 0, have }
  const chunk = 5_000
  // Real envelopes once; later chunks reuse them under other keys (only the read is timed).
  const template = (await envelopes(chunk)).map(toRecord)
  for (let start = have, k = 0; start < n; start += chunk, k++) {
    const tag = k.toString(32).toUpperCase().padStart(4, '0')
    await setMany(
      template
        .slice(0, Math.min(chunk, n - start))
        .map((r) => [`${r.item.emitId.slice(0, 10)}${tag}${r.item.emitId.slice(14)}`, r]),
      store,
    )
  }
  return { seeded: n - have, have: (await keys(store)).length }
}

/** `getAll` of every record, and of a first page of `page` records, from the seeded store. */
async function readBig(page: number) {
  const store = createStore(BIG, 'items')
  await get('warm-up', store)
  const t0 = now()
  const all = await store('readonly', (s) => promisifyRequest(s.getAll()))
  const allMs = now() - t0
  const t1 = now()
  const first = await store('readonly', (s) => promisifyRequest(s.getAll(null, page)))
  const pageMs = now() - t1
  return { all: all.length, allMs, page: first.length, pageMs }
}

/** The floor for start-up: one `getAll` of the outbox's own stored records under `key`, every value read. */
async function rawStartupRead(key: string) {
  const store = createStore(`outbox:${key}`, 'items')
  const t0 = now()
  const all = (await store('readonly', (s) => promisifyRequest(s.getAll()))) as Array<{ item?: unknown }>
  let items = 0
  for (const record of all) if (record.item) items++
  return { records: all.length, items, ms: now() - t0 }
}

/** Raw IndexedDB write throughput with `durability`, `txCount` transactions of `perTx` puts each. */
async function durability(mode: 'strict' | 'relaxed' | 'default', txCount: number, perTx: number) {
  const name = uniq(`durability-${mode}`)
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(name, 1)
    req.onupgradeneeded = () => req.result.createObjectStore('items')
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
  const records = (await envelopes(txCount * perTx)).map(toRecord)
  const t0 = now()
  for (let t = 0; t < txCount; t++) {
    const tx =
      mode === 'default'
        ? db.transaction('items', 'readwrite')
        : db.transaction('items', 'readwrite', { durability: mode })
    const s = tx.objectStore('items')
    for (let i = t * perTx; i < (t + 1) * perTx; i++) {
      const r = records[i] as (typeof records)[number]
      s.put(r, r.item.emitId)
    }
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve()
      tx.onerror = tx.onabort = () => reject(tx.error)
    })
  }
  const ms = now() - t0
  db.close()
  indexedDB.deleteDatabase(name)
  return { mode, txCount, perTx, ms, rate: rate(txCount * perTx, ms), txPerSecond: rate(txCount, ms) }
}

// ---------------------------------------------------------------------------------------------
// @outbox/core in persistent mode.

type Persisted = {
  n: number
  emitMs: number
  persistMs: number
  rate: number
  writes: number
  largestWrite: number
  notifications: number
  updates: number
  stored: number
}

/**
 * What-ifs that need no change to the core: `mathRandom` passes `random: Math.random` (the ULID
 * factory then skips its pooled crypto.getRandomValues draws); `noBroadcast` hides BroadcastChannel while
 * the outbox is created, so persistence posts no deltas or notices (leadership uses Web Locks).
 */
export type WhatIf = { mathRandom?: boolean; noBroadcast?: boolean }

function withWhatIf<T>(w: WhatIf | undefined, create: (extra: Partial<OutboxOptions>) => T): T {
  const saved = globalThis.BroadcastChannel
  if (w?.noBroadcast) (globalThis as { BroadcastChannel?: unknown }).BroadcastChannel = undefined
  try {
    return create(w?.mathRandom ? { random: Math.random } : {})
  } finally {
    globalThis.BroadcastChannel = saved
  }
}

async function persistentOutbox(key: string, whatIf?: WhatIf) {
  const { storage, c } = counting(key)
  const o = withWhatIf(whatIf, (extra) =>
    createOutbox({
      mode: 'persistent',
      persistenceKey: key,
      storage,
      transport: silent(),
      maxSize: 200_000,
      ...extra,
    } as OutboxOptions),
  )
  o.pause()
  await o.ready
  return { o, c }
}

/** Counts notifications after subscribing (the call `subscribe` makes at once is not counted). */
function countNotifications(o: Outbox, read: 'size' | 'pending') {
  const counts = { notifications: 0, updates: 0 }
  let initial = true
  o.subscribe((s) => {
    if (read === 'pending') void s.pending.length
    else void s.size
    if (initial) initial = false
    else counts.notifications++
  })
  o.on('outbox:update', () => counts.updates++)
  return counts
}

/** A burst of `n` emits in one task: time until every record is committed to IndexedDB. */
async function outboxBurst(n: number): Promise<Persisted> {
  const key = uniq('burst')
  const { o, c } = await persistentOutbox(key)
  const counts = countNotifications(o, 'size')
  const list = payloads(n)
  const t0 = now()
  profileStart()
  for (const p of list) o.emit('user:message', p)
  const emitMs = now() - t0
  await c.until(() => c.puts >= n)
  const persistMs = now() - t0
  profileEnd()
  await new Promise((r) => setTimeout(r, 20)) // let late notifications show up
  await o.close()
  return {
    n,
    emitMs,
    persistMs,
    rate: rate(n, persistMs),
    writes: c.writes,
    largestWrite: c.largestWrite,
    ...counts,
    stored: await storedCount(key),
  }
}

/** `n` emits, each in its own task, as events from a UI or a socket arrive. */
async function outboxTrickle(n: number, subscriber: 'none' | 'size' | 'pending', whatIf?: WhatIf): Promise<Persisted> {
  const key = uniq('trickle')
  const { o, c } = await persistentOutbox(key, whatIf)
  const counts =
    subscriber === 'none' ? { notifications: Number.NaN, updates: Number.NaN } : countNotifications(o, subscriber)
  const list = payloads(n)
  const t0 = now()
  profileStart()
  await perTask(n, (i) => o.emit('user:message', list[i] as Record<string, unknown>))
  const emitMs = now() - t0
  await c.until(() => c.puts >= n)
  const persistMs = now() - t0
  profileEnd()
  await o.close()
  return {
    n,
    emitMs,
    persistMs,
    rate: rate(n, persistMs),
    writes: c.writes,
    largestWrite: c.largestWrite,
    ...counts,
    stored: await storedCount(key),
  }
}

/** Stores `n` items under `key` (a paused outbox, closed once they are committed). */
async function seedOutbox(key: string, n: number, chatId = 'c1') {
  const { o, c } = await persistentOutbox(key)
  for (const p of payloads(n, chatId)) o.emit('user:message', p)
  await c.until(() => c.puts >= n)
  await o.close()
  return { stored: await storedCount(key) }
}

/** A new outbox over `key`'s stored items: time to the first transport call and to `ready`. */
async function startup(key: string) {
  const transport = silent(50)
  const { storage, c } = counting(key)
  const t0 = now() // counting() was made just before: its load times are relative to ~t0
  profileStart()
  const o = createOutbox({ mode: 'persistent', persistenceKey: key, storage, transport, maxSize: 200_000 })
  await o.ready
  const readyMs = now() - t0
  const deadline = now() + 2_000
  while (transport.firstAt === 0 && now() < deadline) await new Promise((r) => setTimeout(r, 1))
  const firstSendMs = transport.firstAt === 0 ? Number.NaN : transport.firstAt - t0
  profileEnd()
  const loaded = o.size.value
  await o.close()
  // Give a re-read started after `ready` (if any) time to show up in the count.
  await new Promise((r) => setTimeout(r, 300))
  await o.close()
  const first = c.loads[0]
  return {
    readyMs,
    firstSendMs,
    loaded,
    firstLoadMs: first ? first.ms : Number.NaN,
    loads: c.loads.length,
    fullLoads: c.loads.filter((l) => l.kind === 'full').length,
    pages: c.loads.filter((l) => l.kind === 'page').length,
    loadedTotal: c.loads.reduce((sum, l) => sum + l.records, 0),
    loadMsTotal: c.loads.reduce((sum, l) => sum + l.ms, 0),
  }
}

type DeliverOptions = {
  /** 'stored': a new outbox over `key`'s stored items (seed them first); 'resume': emit n while paused, then resume. */
  from: 'stored' | 'resume'
  mode: 'persistent' | 'memory'
  transport: 'ky' | 'fetch'
  n: number
  batch: number
  key?: string
  storage?: StorageVariant
  whatIf?: WhatIf
}

/**
 * The delivery loop against the local @outbox/server. From storage: a new outbox reads the stored
 * items, sends them, and deletes each on its ack. Ends when the queue is empty and, in persistent
 * mode, every delete is committed.
 */
async function deliver(opts: DeliverOptions) {
  const { n, batch } = opts
  const key = opts.key ?? uniq('deliver')
  const { storage, c } = counting(key, opts.storage)
  const transport =
    opts.transport === 'ky'
      ? httpTransport({ url: API, batch: batch > 1 ? { maxItems: batch } : false })
      : fetchTransport(API, batch)
  let flushed!: () => void
  const done = new Promise<void>((r) => (flushed = r))
  let t0 = now()
  if (opts.from === 'stored') profileStart()
  const o = withWhatIf(opts.whatIf, (extra) =>
    createOutbox({
      mode: opts.mode,
      persistenceKey: key,
      storage,
      transport,
      maxSize: 200_000,
      ...extra,
    } as OutboxOptions),
  )
  let failed = 0
  o.on('outbox:failed', () => failed++)
  o.on('outbox:flushed', () => flushed())
  if (opts.from === 'resume') {
    o.pause()
    await o.ready
    for (const p of payloads(n)) o.emit('user:message', p)
    if (opts.mode === 'persistent') await c.until(() => c.puts >= n)
    t0 = now()
    profileStart()
    o.resume()
  }
  await done
  const sentMs = now() - t0
  if (opts.mode === 'persistent') await c.until(() => c.deletes >= n)
  const ms = now() - t0
  profileEnd()
  await o.close()
  return {
    ...opts,
    ms,
    sentMs,
    rate: rate(n, ms),
    failed,
    writes: c.writes,
    rewrites: c.rewrites,
    deletes: c.deletes,
    loads: c.loads,
  }
}

/**
 * A persistent loop by hand with idb-keyval: read `key`'s stored records, POST them in batches one
 * after another, and delete each batch on its answer (one transaction per batch, not awaited
 * before the next send). What any durable outbox has to do, with nothing else. `deletes: 'each'`
 * is the plain way (idb-keyval's `delMany`, a delete per key); `'range'` is the floor: the batch is
 * a run of neighbouring keys, so one `delete(IDBKeyRange)` removes it.
 */
async function rawPersistentLoop(key: string, batch: number, deletes: 'each' | 'range' = 'each') {
  const store = createStore(`outbox:${key}`, 'items')
  profileStart()
  const t0 = now()
  const records = (await store('readonly', (s) => promisifyRequest(s.getAll()))) as Array<{ item: EmitEnvelope }>
  const pending: Array<Promise<void>> = []
  for (let i = 0; i < records.length; i += batch) {
    const chunk = records.slice(i, i + batch).map((r) => {
      const { emitId, event, payload, keys, lane, createdAt } = r.item
      return keys ? { emitId, event, payload, keys, lane, createdAt } : { emitId, event, payload, lane, createdAt }
    })
    const first = chunk[0] as EmitEnvelope
    const last = chunk[chunk.length - 1] as EmitEnvelope
    const single = batch === 1
    const res = await fetch(API, {
      method: 'POST',
      headers: single
        ? { 'content-type': 'application/json', 'idempotency-key': `"${first.emitId}"` }
        : { 'content-type': 'application/json' },
      body: JSON.stringify(single ? first : { envelopes: chunk }),
    })
    await res.json()
    pending.push(
      deletes === 'range'
        ? store('readwrite', (s) => {
            s.delete(IDBKeyRange.bound(first.emitId, last.emitId))
            return promisifyRequest(s.transaction)
          })
        : delMany(
            chunk.map((e) => e.emitId),
            store,
          ),
    )
  }
  await Promise.all(pending)
  const ms = now() - t0
  profileEnd()
  return { n: records.length, batch, ms, rate: rate(records.length, ms), left: await storedCount(key) }
}

/** The same traffic with no outbox: `fetch` the batches one after another, read each answer. */
async function bareLoop(n: number, batch: number) {
  const list = await envelopes(n)
  const t0 = now()
  let acked = 0
  for (let i = 0; i < n; i += batch) {
    const chunk = list.slice(i, i + batch)
    const single = batch === 1
    const first = chunk[0] as EmitEnvelope
    const res = await fetch(API, {
      method: 'POST',
      headers: single
        ? { 'content-type': 'application/json', 'idempotency-key': `"${first.emitId}"` }
        : { 'content-type': 'application/json' },
      body: JSON.stringify(single ? first : { envelopes: chunk }),
    })
    const body = (await res.json()) as { ok?: boolean; results?: Array<{ ok: boolean }> }
    acked += single ? (body.ok ? 1 : 0) : (body.results ?? []).filter((r) => r.ok).length
  }
  const ms = now() - t0
  return { n, batch, ms, rate: rate(n, ms), acked }
}

// ---------------------------------------------------------------------------------------------
// The field: workbox-background-sync and @tanstack/offline-transactions on the same items.

const requestOf = (e: EmitEnvelope) =>
  new Request(API, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': `"${e.emitId}"` },
    body: JSON.stringify(e),
  })

/**
 * workbox-background-sync: `Queue.pushRequest` for each item (awaited one by one, as a fetch
 * handler would), then `replayRequests()` — what its `sync` event runs — sends and deletes them.
 */
async function workbox(n: number, style: 'one-by-one' | 'burst', replay: boolean) {
  const list = await envelopes(n)
  const queue = new Queue(uniq('wb'), { maxRetentionTime: 24 * 60 })
  const t0 = now()
  if (style === 'one-by-one') for (const e of list) await queue.pushRequest({ request: requestOf(e) })
  else await Promise.all(list.map((e) => queue.pushRequest({ request: requestOf(e) })))
  const pushMs = now() - t0
  let replayMs = Number.NaN
  if (replay) {
    const t1 = now()
    await queue.replayRequests()
    replayMs = now() - t1
  }
  const left = (await queue.getAll()).length
  return { n, style, pushMs, pushRate: rate(n, pushMs), replayMs, replayRate: rate(n, replayMs), left }
}

/**
 * @tanstack/offline-transactions with a @tanstack/db local-only collection: one offline
 * transaction per item (`mutate(insert)` + `commit()`), its own IndexedDB adapter. `persist`
 * times until every transaction is stored (the mutation function never answers); `deliver` lets
 * the mutation function POST each item to the same server and times until every commit settles.
 */
async function tanstack(n: number, mode: 'persist' | 'deliver') {
  const list = await envelopes(n)
  type Row = EmitEnvelope & { id: string }
  const collection = createCollection(
    localOnlyCollectionOptions<Row, string>({ id: uniq('messages'), getKey: (row) => row.id }),
  )
  const adapter = new IndexedDBAdapter(uniq('tanstack'), 'transactions')
  let stored = 0
  let removed = 0
  let onStored = () => {}
  const setItem = adapter.set.bind(adapter)
  const deleteItem = adapter.delete.bind(adapter)
  adapter.set = async (key: string, value: string) => {
    await setItem(key, value)
    stored++
    onStored()
  }
  adapter.delete = async (key: string) => {
    await deleteItem(key)
    removed++
  }
  await adapter.keys() // opens the database outside the timed part
  const executor = startOfflineExecutor({
    collections: { messages: collection },
    storage: adapter,
    leaderElection: new WebLocksLeader(uniq('tanstack-leader')),
    mutationFns: {
      send: async ({ transaction, idempotencyKey }) => {
        if (mode === 'persist') return new Promise<never>(() => {})
        for (const m of transaction.mutations) {
          const { id: _id, ...envelope } = m.modified as Row
          const res = await fetch(API, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': `"${envelope.emitId}"` },
            body: JSON.stringify(envelope),
          })
          if (!res.ok) throw new Error(`HTTP ${res.status} (${idempotencyKey})`)
          await res.json()
        }
      },
    },
  })
  await executor.waitForInit()
  if (!executor.isOfflineEnabled) throw new Error('tanstack executor is not offline-enabled (no leadership)')
  const t0 = now()
  const commits: Array<Promise<unknown>> = []
  for (const e of list) {
    const tx = executor.createOfflineTransaction({ mutationFnName: 'send', autoCommit: false })
    tx.mutate(() => collection.insert({ ...e, id: e.emitId }))
    commits.push(tx.commit())
  }
  const callMs = now() - t0
  let ms: number
  if (mode === 'persist') {
    await new Promise<void>((resolve) => {
      onStored = () => stored >= n && resolve()
      onStored()
    })
    ms = now() - t0
  } else {
    await Promise.all(commits)
    ms = now() - t0
  }
  executor.dispose()
  return { n, mode, callMs, ms, rate: rate(n, ms), stored, removed }
}

// ---------------------------------------------------------------------------------------------

/** Deletes every database this page created except the long-lived seeds. */
async function cleanDatabases(keep: string[]) {
  const dbs = await indexedDB.databases()
  await Promise.all(
    dbs
      .filter((d) => d.name && !keep.includes(d.name))
      .map(
        (d) =>
          new Promise<void>((resolve) => {
            const req = indexedDB.deleteDatabase(d.name as string)
            req.onsuccess = req.onerror = req.onblocked = () => resolve()
          }),
      ),
  )
  return { deleted: dbs.length }
}

const info = async () => ({
  userAgent: navigator.userAgent,
  hardwareConcurrency: navigator.hardwareConcurrency,
  storage: await navigator.storage?.estimate?.(),
})

const bench = {
  info,
  setProfiling,
  rawPerItemSet,
  rawBurst,
  rawGroupCommit,
  arrayRewrite,
  seedBig,
  readBig,
  durability,
  outboxBurst,
  outboxTrickle,
  seedOutbox,
  startup,
  rawStartupRead,
  deliver,
  bareLoop,
  rawPersistentLoop,
  workbox,
  tanstack,
  cleanDatabases,
}
export type Bench = typeof bench
;(globalThis as unknown as { bench: Bench }).bench = bench
