import 'fake-indexeddb/auto'
import { afterEach, describe, expect, it } from 'vitest'
import { LAZY_DELETE_MS } from '../src/group-commit.ts'
import { idbStorage } from '../src/idb-storage.ts'
import { createOutbox } from '../src/outbox.ts'
import { RECORD_VERSION } from '../src/record.ts'
import { MAX_PAGE_SIZE, PAGE_SIZE } from '../src/startup.ts'
import { memoryStorage, type OutboxStorage } from '../src/storage.ts'
import { RESYNC_MS } from '../src/storage-sync.ts'
import type { DeliveryError, Outbox, OutboxOptions, Transport } from '../src/types.ts'
import {
  ack,
  fakeClock,
  fakeTransport,
  heldTransport,
  httpError,
  manualNetwork,
  storeUnannounced,
  tick,
  turns,
  uniqueKey,
  until,
} from './helpers.ts'

const open: Outbox[] = []
afterEach(async () => {
  for (const o of open.splice(0)) await o.close()
})

/** A persistent outbox; leadership (BroadcastChannel heartbeats in Node) settles on the fake clock. */
async function persistent<T extends Transport = ReturnType<typeof fakeTransport>>(
  options: Partial<OutboxOptions> & { persistenceKey: string },
  transport: T = fakeTransport() as unknown as T,
) {
  const clock = options.clock ?? fakeClock()
  const outbox = createOutbox({
    transport,
    mode: 'persistent',
    clock,
    network: options.network ?? manualNetwork(),
    retry: { jitter: false },
    ...options,
  })
  open.push(outbox)
  await outbox.ready
  return { outbox, clock: clock as ReturnType<typeof fakeClock>, transport }
}

/** Counts storage transactions. */
function counting(inner: OutboxStorage) {
  const writes: Array<{ puts: number; deletes: number }> = []
  const storage: OutboxStorage = {
    load: () => inner.load(),
    clear: () => inner.clear(),
    write: (puts, deletes) => {
      writes.push({ puts: puts.length, deletes: deletes.length })
      return inner.write(puts, deletes)
    },
  }
  return { storage, writes }
}

describe('persistent mode', () => {
  it('stores each durable item as its own record keyed by emitId, with a schema version', async () => {
    const key = uniqueKey('test')
    const { outbox } = await persistent({ persistenceKey: key }, heldTransport())
    const e = outbox.emit('user:message', { chatId: 'c', text: 'hi' })
    const storage = idbStorage(key)
    let records: Array<[string, unknown]> = []
    for (let i = 0; i < 100 && records.length === 0; i++) {
      await tick()
      records = await storage.load()
    }
    expect(records[0]?.[0]).toBe(e.emitId)
    expect(records[0]?.[1]).toMatchObject({ v: RECORD_VERSION, item: { emitId: e.emitId, payload: { text: 'hi' } } })
  })

  it('writes a burst of emits in one transaction (group commit)', async () => {
    const { storage, writes } = counting(memoryStorage())
    const { outbox } = await persistent({ persistenceKey: uniqueKey('test'), storage }, heldTransport())
    outbox.pause()
    for (let i = 0; i < 1000; i++) outbox.emit('m', { i })
    await until(() => writes.length > 0)
    expect(writes).toEqual([{ puts: 1000, deletes: 0 }])
  })

  it('keeps at most one write in flight; what changes meanwhile goes into the next', async () => {
    let release: () => void = () => {}
    const inner = memoryStorage()
    const writes: number[] = []
    const storage: OutboxStorage = {
      ...inner,
      write: async (puts, deletes) => {
        writes.push(puts.length)
        if (writes.length === 1) await new Promise<void>((r) => (release = r))
        return inner.write(puts, deletes)
      },
    }
    const { outbox } = await persistent({ persistenceKey: uniqueKey('test'), storage })
    outbox.pause()
    outbox.emit('m', { i: 0 })
    await until(() => writes.length === 1)
    for (let i = 1; i <= 50; i++) outbox.emit('m', { i })
    await tick()
    expect(writes).toEqual([1])
    release()
    await until(() => writes.length === 2)
    expect(writes).toEqual([1, 50])
  })

  it('deletes acked and dropped items, keeps failed ones, and never stores typing events', async () => {
    const store = memoryStorage()
    const transport = fakeTransport((b) => b.map((e) => (e.payload.bad ? httpError(e, 403) : ack(e))))
    const { outbox, clock } = await persistent({ persistenceKey: uniqueKey('test'), storage: store }, transport)
    await clock.advance(2000) // leadership settles
    const good = outbox.emit('m', { chatId: 'a' })
    const bad = outbox.emit('m', { chatId: 'b', bad: true })
    outbox.emit('typing:start', { chatId: 'c', userId: 'u' })
    await outbox.delivered(good.emitId)
    await until(() => outbox.failed.value.length === 1 && !store.records.has(good.emitId))
    await until(() => (store.records.get(bad.emitId) as { item: { status: string } })?.item.status === 'failed')
    expect([...store.records.keys()]).toEqual([bad.emitId])
    outbox.discard(bad.emitId)
    await until(() => store.records.size === 0)
  })

  it('lets the deletes of acks wait for company: the next put, LAZY_DELETE_MS, or the queue draining', async () => {
    const { storage, writes } = counting(memoryStorage())
    const transport = heldTransport()
    const { outbox, clock } = await persistent({ persistenceKey: uniqueKey('test'), storage }, transport)
    await clock.advance(2000) // leadership settles
    for (const n of [1, 2, 3]) outbox.emit('m', { chatId: 'c', n })
    await until(() => writes.length === 1 && transport.open.length === 1)
    const settleOne = async () => {
      transport.settle()
      await until(() => transport.open.length === 1)
    }
    await settleOne()
    await turns(20)
    expect(writes).toEqual([{ puts: 3, deletes: 0 }]) // the ack's delete waits
    await clock.advance(LAZY_DELETE_MS)
    await until(() => writes.length === 2)
    expect(writes[1]).toEqual({ puts: 0, deletes: 1 })
    await settleOne()
    outbox.emit('m', { chatId: 'c', n: 4 }) // a put takes the waiting delete along
    await until(() => writes.length === 3)
    expect(writes[2]).toEqual({ puts: 1, deletes: 1 })
    await settleOne()
    transport.settle()
    await until(() => outbox.size.value === 0 && writes.length === 4) // drained: no wait
    expect(writes[3]).toEqual({ puts: 0, deletes: 2 })
    expect(await storage.load()).toEqual([])
  })

  it('a user’s discard is deleted at once, and close() writes waiting deletes', async () => {
    const { storage, writes } = counting(memoryStorage())
    const transport = heldTransport()
    const { outbox, clock } = await persistent({ persistenceKey: uniqueKey('test'), storage }, transport)
    await clock.advance(2000)
    const a1 = outbox.emit('m', { chatId: 'c', n: 1 })
    const a2 = outbox.emit('m', { chatId: 'c', n: 2 })
    const b = outbox.emit('m', { chatId: 'other' })
    await until(() => writes.length === 1 && transport.open.length === 2)
    transport.settle() // a1 acked; a2 goes
    await until(() => outbox.status(a1.emitId).value === 'delivered' && transport.open.length === 2)
    outbox.discard(b.emitId)
    await until(() => writes.length === 2)
    expect(writes[1]).toEqual({ puts: 0, deletes: 2 }) // the discard took the ack's delete along
    transport.settle() // b's call, discarded meanwhile
    const a3 = outbox.emit('m', { chatId: 'c', n: 3 })
    await until(() => writes.length === 3)
    transport.settle() // a2 acked; a3 goes, so the queue does not drain
    await until(() => outbox.status(a2.emitId).value === 'delivered' && transport.open.length === 1)
    await turns(20)
    expect(writes).toHaveLength(3)
    await outbox.close()
    expect(writes[3]?.deletes).toBe(1) // (and a3, in flight at close, stored as queued again)
    expect((await storage.load()).map(([id]) => id)).toEqual([a3.emitId])
  })

  it('loads stored items in emitId order before sending, then resolves ready; earlier emits sort after', async () => {
    const key = uniqueKey('test')
    const storage = memoryStorage()
    const first = await persistent({ persistenceKey: key, storage, network: manualNetwork(false) })
    const a = first.outbox.emit('m', { chatId: 'c', n: 1 })
    const b = first.outbox.emit('m', { chatId: 'c', n: 2 })
    await first.outbox.close()

    let release: () => void = () => {}
    const slow: OutboxStorage = {
      ...storage,
      load: async () => {
        await new Promise<void>((r) => (release = r))
        return storage.load()
      },
    }
    const transport = fakeTransport()
    const clock = fakeClock(first.clock.now() + 60_000)
    const outbox = createOutbox({
      transport,
      mode: 'persistent',
      persistenceKey: key,
      storage: slow,
      clock,
      network: manualNetwork(),
      retry: { jitter: false },
    })
    open.push(outbox)
    const c = outbox.emit('m', { chatId: 'c', n: 3 })
    await clock.advance(2500) // a leader is elected; the load has not timed out

    expect(transport.calls).toHaveLength(0)
    release()
    await outbox.ready
    expect(outbox.pending.value.map((i) => i.emitId)).toEqual([a.emitId, b.emitId, c.emitId])
    await until(() => transport.calls.length === 3)
    expect(transport.sent()).toEqual([a.emitId, b.emitId, c.emitId])
  })

  it('keeps an item’s coalesceKey and ttlMs across a restart; plain items load as plain', async () => {
    const key = uniqueKey('test')
    const storage = memoryStorage()
    const first = await persistent({ persistenceKey: key, storage, network: manualNetwork(false) })
    const keyed = first.outbox.emit('m', { chatId: 'a', n: 1 }, { coalesceKey: 'draft' })
    const stale = first.outbox.emit('m', { chatId: 'b', n: 1 }, { ttlMs: 1_000 })
    const plain = first.outbox.emit('m', { chatId: 'c', n: 1 })
    await first.outbox.close()

    const network = manualNetwork(false)
    const clock = fakeClock(first.clock.now() + 5_000) // past the ttl
    const { outbox, transport } = await persistent({ persistenceKey: key, storage, network, clock })
    const dropped: Array<[string, string]> = []
    outbox.on('outbox:dropped', (e) => dropped.push([e.envelope.emitId, e.reason]))
    const replacing = outbox.emit('m', { chatId: 'a', n: 2 }, { coalesceKey: 'draft' })
    expect(dropped).toEqual([[keyed.emitId, 'coalesced']])
    await clock.advance(2000) // it leads
    network.set(true)
    await until(() => outbox.size.value === 0)
    expect(dropped).toContainEqual([stale.emitId, 'stale'])
    expect(transport.sent().sort()).toEqual([plain.emitId, replacing.emitId].sort())
  })

  it('starts sending after the first page of stored items, never past what is loaded', async () => {
    const storage = memoryStorage()
    const before = await persistent({ persistenceKey: uniqueKey('test'), storage, network: manualNetwork(false) })
    const stored = Array.from(
      { length: 1200 },
      (_, i) => before.outbox.emit('m', { chatId: i < 600 ? 'a' : 'b', i }).emitId,
    )
    await before.outbox.close()
    const pages: Array<() => void> = []
    const paged: OutboxStorage = {
      ...storage,
      loadPage: async (after, limit) => {
        if (after !== undefined) await new Promise<void>((r) => pages.push(r))
        return (await storage.loadPage?.(after, limit)) ?? []
      },
    }
    const clock = fakeClock(before.clock.now() + 1000)
    const transport = heldTransport()
    const outbox = createOutbox({ transport, mode: 'persistent', storage: paged, clock, network: manualNetwork() })
    open.push(outbox)
    let ready = false
    void outbox.ready.then(() => (ready = true))
    const fresh = outbox.emit('m', { chatId: 'c' })
    await clock.advance(2000) // leadership
    await until(() => transport.open.length === 1)
    expect(ready).toBe(false)
    expect(transport.open.map((c) => c.batch[0]?.emitId)).toEqual([stored[0]]) // lane a's head, from page 1
    // Lane b starts in page 2 and lane c is newer than the watermark: neither may go yet.
    await until(() => pages.length === 1)
    transport.settle()
    await until(() => transport.open.length === 1)
    expect(transport.open[0]?.batch[0]?.emitId).toBe(stored[1])
    pages.shift()?.() // the second page (up to MAX_PAGE_SIZE records) holds the other 700
    await until(() => ready)
    await until(() => transport.open.length === 3)
    expect(transport.open.map((c) => c.batch[0]?.emitId).sort()).toEqual([stored[1], stored[600], fresh.emitId].sort())
  })

  it('a drain while start-up still reads pages does not read storage again', async () => {
    const storage = memoryStorage()
    const before = await persistent({ persistenceKey: uniqueKey('test'), storage, network: manualNetwork(false) })
    const stored = Array.from({ length: PAGE_SIZE + 30 }, (_, i) => before.outbox.emit('m', { i }).emitId)
    await before.outbox.close()
    let fullReads = 0
    let release = () => {}
    const secondPage = new Promise<void>((resolve) => (release = resolve))
    const transport = fakeTransport()
    const clock = fakeClock(before.clock.now() + 1000)
    const outbox = createOutbox({
      transport,
      mode: 'persistent',
      storage: {
        ...storage,
        load: () => {
          fullReads++
          return storage.load()
        },
        loadPage: async (after, limit) => {
          if (after !== undefined) await secondPage
          return (await storage.loadPage?.(after, limit)) ?? []
        },
      },
      clock,
      network: manualNetwork(),
    })
    open.push(outbox)
    await clock.advance(2000) // leadership
    await until(() => transport.sent().length === PAGE_SIZE) // the first page is sent: the queue drains
    release()
    await outbox.ready
    await until(() => outbox.size.value === 0)
    expect(transport.sent()).toEqual(stored)
    expect(fullReads).toBe(0)
  })

  it('reads the first page small and the rest in pages of MAX_PAGE_SIZE', async () => {
    const storage = memoryStorage()
    const before = await persistent({ persistenceKey: uniqueKey('test'), storage, network: manualNetwork(false) })
    const stored = Array.from({ length: PAGE_SIZE + 30 }, (_, i) => before.outbox.emit('m', { i }).emitId)
    await before.outbox.close()
    const reads: Array<[string | undefined, number]> = []
    const outbox = createOutbox({
      transport: fakeTransport(),
      mode: 'persistent',
      storage: {
        ...storage,
        loadPage: (after, limit) => {
          reads.push([after, limit])
          return storage.loadPage?.(after, limit) ?? Promise.resolve([])
        },
      },
      clock: fakeClock(),
      network: manualNetwork(false),
    })
    open.push(outbox)
    await outbox.ready
    expect(reads).toEqual([
      [undefined, PAGE_SIZE],
      [stored[PAGE_SIZE - 1], MAX_PAGE_SIZE],
    ])
    expect(outbox.pending.value.map((i) => i.emitId)).toEqual(stored)
  })

  it('idbStorage.loadPage reads keys and values with one getAllRecords, or getAllKeys + getAll without it', async () => {
    const key = uniqueKey('test')
    const storage = idbStorage(key)
    const ids = ['01ARZ3NDEKTSV4RRFFQ69G5FA1', '01ARZ3NDEKTSV4RRFFQ69G5FA2', '01ARZ3NDEKTSV4RRFFQ69G5FA3']
    await storage.write(
      ids.map((id, i) => [id, { i }]),
      [],
    )
    const want = [
      [
        [ids[0], { i: 0 }],
        [ids[1], { i: 1 }],
      ],
      [
        [ids[1], { i: 1 }],
        [ids[2], { i: 2 }],
      ],
    ]
    const proto = IDBObjectStore.prototype as IDBObjectStore & { getAllRecords?: (...args: unknown[]) => unknown }
    const original = proto.getAllRecords
    expect(original).toBeTypeOf('function') // fake-indexeddb has it, as Chromium 141+ does
    let calls = 0
    proto.getAllRecords = function (this: IDBObjectStore, ...args: unknown[]) {
      calls++
      return original?.apply(this, args)
    }
    try {
      expect([await storage.loadPage?.(undefined, 2), await storage.loadPage?.(ids[0], 10)]).toEqual(want)
      expect(calls).toBe(2)
      // Browsers without it: getAllKeys + getAll in one transaction.
      delete proto.getAllRecords
      expect([await storage.loadPage?.(undefined, 2), await storage.loadPage?.(ids[0], 10)]).toEqual(want)
      expect(calls).toBe(2)
    } finally {
      proto.getAllRecords = original
    }
  })

  it('idbStorage deletes runs of neighbouring keys with one range delete, never a key that stays', async () => {
    const storage = idbStorage(uniqueKey('test'))
    const id = (n: number) => `01ARZ3NDEKTSV4RRFFQ69G${String(n).padStart(4, '0')}`
    const all = Array.from({ length: 40 }, (_, n) => id(n))
    await storage.write(
      all.map((k) => [k, { k }]),
      [],
    )
    const proto = IDBObjectStore.prototype
    const original = proto.delete
    const calls: Array<string | [string, string]> = []
    proto.delete = function (this: IDBObjectStore, query: IDBValidKey | IDBKeyRange) {
      calls.push(query instanceof IDBKeyRange ? [String(query.lower), String(query.upper)] : String(query))
      return original.call(this, query)
    }
    try {
      // 0-9 and 12-19 go; 10 and 11 (another lane's items) stay; 90 was never stored.
      const doomed = [...all.slice(0, 10), ...all.slice(12, 20), id(90)]
      await storage.write([], doomed.reverse())
      expect(calls).toEqual([
        [id(0), id(9)],
        [id(12), id(19)],
      ])
      expect((await storage.load()).map(([k]) => k)).toEqual([id(10), id(11), ...all.slice(20)])
      // A few keys go one by one.
      calls.length = 0
      await storage.write([], [id(20), id(21)])
      expect(calls).toEqual([id(20), id(21)])
      // Keys scattered among many others that stay: one by one, not dozens of tiny ranges.
      calls.length = 0
      const scattered = [id(22), id(39), id(30), id(25)]
      await storage.write([], scattered)
      expect(calls.sort()).toEqual([...scattered].sort())
      // A put in the same write splits a run as a stored key does.
      calls.length = 0
      await storage.write([[id(33), { k: 'new' }]], [id(31), id(32), id(34), id(35)])
      expect(calls).toEqual([
        [id(31), id(32)],
        [id(34), id(35)],
      ])
      expect((await storage.load()).map(([k]) => k)).toEqual([
        id(10),
        id(11),
        id(23),
        id(24),
        ...[26, 27, 28, 29, 33, 36, 37, 38].map(id),
      ])
    } finally {
      proto.delete = original
    }
  })

  it('idbStorage commits writes that store items with strict durability, deletes with the default', async () => {
    const storage = idbStorage(uniqueKey('test'))
    const proto = IDBDatabase.prototype
    const original = proto.transaction
    const seen: Array<[IDBTransactionMode | undefined, string | undefined]> = []
    proto.transaction = function (this: IDBDatabase, ...args: Parameters<IDBDatabase['transaction']>) {
      if (args[1] !== ('versionchange' as IDBTransactionMode)) seen.push([args[1], args[2]?.durability])
      return original.apply(this, args)
    }
    try {
      await storage.write([['01ARZ3NDEKTSV4RRFFQ69G5FAV', { v: 1 }]], [])
      await storage.write([], ['01ARZ3NDEKTSV4RRFFQ69G5FAV'])
      await storage.loadPage?.(undefined, 10)
      expect(seen).toEqual([
        ['readwrite', 'strict'],
        ['readwrite', undefined],
        ['readonly', undefined],
      ])
    } finally {
      proto.transaction = original
    }
    expect(await storage.load()).toEqual([])
  })

  it('does not rewrite a stored item when it goes in flight; the other tab still sees it sending', async () => {
    const key = uniqueKey('test')
    const inner = memoryStorage()
    const before = await persistent({ persistenceKey: key, storage: inner, network: manualNetwork(false) })
    const stored = before.outbox.emit('m', { chatId: 'c' })
    await before.outbox.close()
    const { storage, writes } = counting(inner)
    const transport = heldTransport()
    const clock = fakeClock(before.clock.now() + 1000)
    const leader = await persistent({ persistenceKey: key, storage: { ...inner, ...storage }, clock }, transport)
    const follower = await persistent({ persistenceKey: key, storage: inner, clock, network: manualNetwork() })
    await clock.advance(2000) // leadership
    await until(() => transport.open.length === 1)
    expect(leader.outbox.pending.value.map((i) => [i.status, i.attempts])).toEqual([['sending', 1]])
    await until(() => follower.outbox.pending.value[0]?.status === 'sending')
    expect(follower.outbox.pending.value.map((i) => [i.emitId, i.attempts])).toEqual([[stored.emitId, 1]])
    expect(writes).toEqual([]) // in flight, and storage untouched
    expect((inner.records.get(stored.emitId) as { item: { status: string } }).item.status).toBe('queued')
    transport.settle()
    await until(() => writes.length === 1 && follower.outbox.size.value === 0)
    expect(writes).toEqual([{ puts: 0, deletes: 1 }])
    expect(inner.records.size).toBe(0)
  })

  it('tells the other tabs of a batch’s acks and the next batch going in flight in one message', async () => {
    const key = uniqueKey('test')
    const transport = heldTransport()
    const { outbox, clock } = await persistent({ persistenceKey: key }, transport)
    await clock.advance(2000)
    const [a, b] = [1, 2].map((n) => outbox.emit('m', { chatId: 'c', n }).emitId)
    await until(() => transport.open.length === 1)
    await until(() => outbox.status(a as string).value === 'sending')
    await turns(50) // both emits' first writes are committed
    const heard: unknown[] = []
    const other = new BroadcastChannel(`outbox:${key}`)
    other.onmessage = ({ data }) => heard.push(data)
    try {
      transport.settle()
      await until(() => transport.open.length === 1 && heard.length > 0)
      await turns(20)
      expect(heard).toEqual([
        { t: 'news', notices: [{ kind: 'acked', emitId: a, ack: { ok: true, emitId: a } }], sent: [[b, 1]] },
      ])
    } finally {
      other.close()
    }
  })

  it('skips and reports stored records that are not valid envelopes', async () => {
    const storage = memoryStorage()
    const good = await persistent({ persistenceKey: uniqueKey('test'), storage, network: manualNetwork(false) })
    const kept = good.outbox.emit('m', {})
    await good.outbox.close()
    storage.records.set('01ARZ3NDEKTSV4RRFFQ69G5FAA', { v: 1, item: { emitId: 'not-this' } })
    storage.records.set('01ARZ3NDEKTSV4RRFFQ69G5FAB', { v: 99, item: {} })
    storage.records.set('01ARZ3NDEKTSV4RRFFQ69G5FAC', 'garbage')
    storage.records.set('01ARZ3NDEKTSV4RRFFQ69G5FAD', {
      v: 1,
      item: {
        ...(storage.records.get(kept.emitId) as { item: object }).item,
        emitId: '01ARZ3NDEKTSV4RRFFQ69G5FAD',
        attempts: -1,
      },
    })
    const errors: DeliveryError[] = []
    const outbox = createOutbox({
      transport: fakeTransport(),
      mode: 'persistent',
      storage,
      clock: fakeClock(),
      network: manualNetwork(false),
    })
    open.push(outbox)
    outbox.on('outbox:error', (e) => errors.push(e.error))
    await outbox.ready
    expect(outbox.pending.value.map((i) => i.emitId)).toEqual([kept.emitId])
    expect(errors).toHaveLength(4)
    expect(errors.every((e) => e.kind === 'storage' && e.code === 'invalid-record')).toBe(true)
    expect(errors.map((e) => e.message).join('\n')).toMatch(/unknown record version 99/)
  })

  it('keeps delivering from memory when writes fail (quota), reports it once, and stores again later', async () => {
    const inner = memoryStorage()
    let full = true
    const storage: OutboxStorage = {
      ...inner,
      write: async (puts, deletes) => {
        if (full) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError')
        return inner.write(puts, deletes)
      },
    }
    const errors: DeliveryError[] = []
    const { outbox, clock, transport } = await persistent(
      { persistenceKey: uniqueKey('test'), storage },
      heldTransport(),
    )
    outbox.on('outbox:error', (e) => errors.push(e.error))
    const a = outbox.emit('m', { chatId: 'a' })
    outbox.emit('m', { chatId: 'b' })
    await until(() => errors.length === 1)
    expect(errors[0]).toMatchObject({
      kind: 'storage',
      retryable: true,
      message: expect.stringMatching(/QuotaExceededError/),
    })
    await clock.advance(2000)
    await until(() => transport.open.length === 2)
    transport.settle()
    await until(() => outbox.status(a.emitId).value === 'delivered')
    full = false
    await clock.advance(5000)
    await until(() => inner.records.size === 1)
    expect(errors).toHaveLength(1)
    expect(outbox.size.value).toBe(1)
  })

  it('starts without stored items when storage hangs, and adds them when the read completes', async () => {
    const inner = memoryStorage()
    const before = await persistent({
      persistenceKey: uniqueKey('test'),
      storage: inner,
      network: manualNetwork(false),
    })
    const old = before.outbox.emit('m', { chatId: 'a' })
    await before.outbox.close()
    let release: () => void = () => {}
    const hung: OutboxStorage = {
      ...inner,
      load: async () => {
        await new Promise<void>((r) => (release = r))
        return inner.load()
      },
    }
    const clock = fakeClock()
    const transport = fakeTransport()
    const errors: DeliveryError[] = []
    const outbox = createOutbox({ transport, mode: 'persistent', storage: hung, clock, network: manualNetwork() })
    open.push(outbox)
    outbox.on('outbox:error', (e) => errors.push(e.error))
    const fresh = outbox.emit('m', { chatId: 'b' })
    await clock.advance(3000)
    await outbox.ready
    expect(errors[0]).toMatchObject({ kind: 'storage', message: expect.stringMatching(/did not load within 3000 ms/) })
    await until(() => outbox.status(fresh.emitId).value === 'delivered')
    release()
    await until(() => outbox.status(old.emitId).value === 'delivered')
  })

  it('closes at once while storage is failing (it cannot wait for a store that will not write)', async () => {
    const storage: OutboxStorage = {
      load: async () => [],
      write: async () => {
        throw new DOMException('quota', 'QuotaExceededError')
      },
      clear: async () => {},
    }
    const errors: DeliveryError[] = []
    const { outbox } = await persistent({ persistenceKey: uniqueKey('test'), storage })
    outbox.on('outbox:error', (e) => errors.push(e.error))
    outbox.emit('m', {})
    await until(() => errors.length === 1)
    let closed = false
    void outbox.close().then(() => (closed = true))
    await until(() => closed, 20)
  })

  it('closes and clears within a bound even when a write never settles', async () => {
    const storage: OutboxStorage = { load: async () => [], write: () => new Promise(() => {}), clear: async () => {} }
    const clock = fakeClock()
    const errors: DeliveryError[] = []
    const { outbox } = await persistent({ persistenceKey: uniqueKey('test'), storage, clock })
    outbox.on('outbox:error', (e) => errors.push(e.error))
    outbox.emit('m', {})
    await tick()
    let cleared = false
    void outbox.clear().then(() => (cleared = true))
    await clock.advance(3000)
    await until(() => cleared)
    outbox.emit('m', {})
    let closed = false
    void outbox.close().then(() => (closed = true))
    await clock.advance(3000)
    await until(() => closed)
    expect(errors.map((e) => e.message)).toContain('Storage did not finish writing within 3000 ms')
  })

  it('works in memory, with a storage error, where IndexedDB is missing', async () => {
    const saved = globalThis.indexedDB
    // @ts-expect-error simulating a browser without IndexedDB
    delete globalThis.indexedDB
    try {
      const errors: DeliveryError[] = []
      const transport = fakeTransport()
      const outbox = createOutbox({
        transport,
        mode: 'persistent',
        persistenceKey: uniqueKey('test'),
        network: manualNetwork(),
      })
      open.push(outbox)
      outbox.on('outbox:error', (e) => errors.push(e.error))
      const e = outbox.emit('m', {})
      await expect(outbox.delivered(e.emitId)).resolves.toMatchObject({ ok: true })
      expect(errors[0]).toMatchObject({ kind: 'storage', message: expect.stringMatching(/IndexedDB is not available/) })
    } finally {
      globalThis.indexedDB = saved
    }
  })

  it('clear deletes the stored records; another persistenceKey never sees them', async () => {
    const key = uniqueKey('test')
    const { outbox } = await persistent({ persistenceKey: key, network: manualNetwork(false) })
    outbox.emit('m', {})
    const other = await persistent({ persistenceKey: uniqueKey('test'), network: manualNetwork(false) })
    expect(other.outbox.size.value).toBe(0)
    await outbox.close()
    expect(await idbStorage(key).load()).toHaveLength(1)
    const again = await persistent({ persistenceKey: key, network: manualNetwork(false) })
    expect(again.outbox.size.value).toBe(1)
    await again.outbox.clear()
    expect(await idbStorage(key).load()).toHaveLength(0)
  })

  it('close waits for writes in progress, so a new outbox on the key sees every emit', async () => {
    const key = uniqueKey('test')
    const { outbox } = await persistent({ persistenceKey: key, network: manualNetwork(false) })
    const ids = Array.from({ length: 200 }, (_, i) => outbox.emit('m', { i }).emitId)
    await outbox.close()
    const next = await persistent({ persistenceKey: key, network: manualNetwork(false) })
    expect(next.outbox.pending.value.map((i) => i.emitId)).toEqual(ids)
  })

  it('keeps the failed list across a restart and a retry resends the same emitId', async () => {
    const key = uniqueKey('test')
    const transport = fakeTransport((b) => b.map((e) => httpError(e, 403)))
    const first = await persistent({ persistenceKey: key }, transport)
    await first.clock.advance(2000)
    const e = first.outbox.emit('m', {})
    await until(() => first.outbox.failed.value.length === 1)
    await first.outbox.close()
    const second = await persistent({ persistenceKey: key })
    expect(second.outbox.failed.value.map((f) => [f.emitId, f.error.code])).toEqual([[e.emitId, 403]])
    second.outbox.retry(e.emitId)
    await second.clock.advance(2000)
    await expect(second.outbox.delivered(e.emitId)).resolves.toMatchObject({ ok: true })
    expect(second.transport.sent()).toEqual([e.emitId])
  })
})

describe('several outboxes on one key', () => {
  /** Two tabs on a fresh key, sharing a transport and a clock, once one of them leads. */
  async function twoTabs<T extends Transport>(transport: T) {
    const key = uniqueKey('test')
    const clock = fakeClock()
    const a = await persistent({ persistenceKey: key, clock }, transport)
    const b = await persistent({ persistenceKey: key, clock }, transport)
    await clock.advance(2000)
    return { key, clock, a, b }
  }

  it('exactly one sends; the other’s emits reach it and both show the shared queue', async () => {
    const transport = heldTransport()
    const { a, b } = await twoTabs(transport)
    await until(() => true)
    const x = a.outbox.emit('m', { chatId: 'c', n: 1 })
    const y = b.outbox.emit('m', { chatId: 'c', n: 2 })
    await until(() => transport.open.length === 1)
    await until(() => a.outbox.size.value === 2 && b.outbox.size.value === 2)
    expect(a.outbox.pending.value.map((i) => i.emitId)).toEqual(b.outbox.pending.value.map((i) => i.emitId))
    transport.settle()
    await until(() => transport.open.length === 1)
    transport.settle()
    await until(() => a.outbox.size.value === 0 && b.outbox.size.value === 0)
    await expect(a.outbox.delivered(x.emitId)).resolves.toMatchObject({ ok: true })
    await expect(b.outbox.delivered(y.emitId)).resolves.toMatchObject({ ok: true })
    expect(transport.open).toHaveLength(0)
  })

  /** A sender, and a stored item no tab announced to it (as if its tab died right after the commit). */
  async function senderAndOrphan() {
    const key = uniqueKey('test')
    const transport = fakeTransport()
    const clock = fakeClock()
    const a = await persistent({ persistenceKey: key, clock }, transport)
    await clock.advance(2000)
    return { key, transport, clock, a, orphan: await storeUnannounced(key, clock.now()) }
  }

  it('sends a stored item no tab announced (its tab died after the commit) once another tab starts', async () => {
    const { key, transport, clock, a, orphan } = await senderAndOrphan()
    await turns(50)
    expect(transport.sent()).toEqual([]) // nothing told the sender
    await persistent({ persistenceKey: key, clock }, transport)
    await until(() => a.outbox.status(orphan).value === 'delivered')
    expect(transport.sent()).toEqual([orphan])
  })

  it('re-reads storage when its queue drains, at most once per RESYNC_MS, and never skips the last drain', async () => {
    const { key, transport, clock, a, orphan } = await senderAndOrphan()
    await clock.advance(RESYNC_MS)
    // The first drain long after start-up's read reads at once.
    const first = a.outbox.emit('m', { chatId: 'other', n: 1 })
    await until(() => a.outbox.status(orphan).value === 'delivered')
    expect(transport.sent()).toEqual([first.emitId, orphan])
    // The next drains come sooner: their read is put off until RESYNC_MS is up, not skipped.
    const later = await storeUnannounced(key, clock.now())
    const second = a.outbox.emit('m', { chatId: 'other', n: 2 })
    await until(() => a.outbox.status(second.emitId).value === 'delivered')
    await clock.advance(RESYNC_MS - 10)
    await turns(50)
    expect(transport.sent()).toEqual([first.emitId, orphan, second.emitId])
    await clock.advance(10)
    await until(() => a.outbox.status(later).value === 'delivered')
    expect(transport.sent()).toEqual([first.emitId, orphan, second.emitId, later])
  })

  it('when the sender finds in storage what no tab announced, the other tabs read again', async () => {
    const transport = fakeTransport()
    const { key, clock, a, b } = await twoTabs(transport)
    // A tab failed an item, stored it, and died before its message: neither a nor b heard of it.
    const orphan = await storeUnannounced(key, clock.now(), true)
    await turns(50)
    expect(b.outbox.failed.value).toEqual([])
    // c reads it at start-up and asks the sender to look; the sender finds it and tells the others.
    const c = await persistent({ persistenceKey: key, clock }, transport)
    expect(c.outbox.failed.value.map((f) => f.emitId)).toEqual([orphan])
    await until(() => a.outbox.failed.value.length === 1 && b.outbox.failed.value.length === 1)
    expect(b.outbox.failed.value.map((f) => [f.emitId, f.error.code])).toEqual([[orphan, 403]])
  })

  it('a tab still starting when no tab leads reads again if it ends up sending', async () => {
    const key = uniqueKey('test')
    const transport = fakeTransport()
    const clock = fakeClock()
    // b's start-up read sees storage before the orphan, and ends only when the test says so.
    const inner = idbStorage(key)
    let release = () => {}
    const gate = new Promise<void>((resolve) => (release = resolve))
    const slow: OutboxStorage = {
      ...inner,
      loadPage: async (after, limit) => {
        const page = await (inner.loadPage as NonNullable<OutboxStorage['loadPage']>)(after, limit)
        await gate
        return page
      },
    }
    const b = createOutbox({ transport, mode: 'persistent', persistenceKey: key, clock, storage: slow })
    open.push(b)
    await turns(20)
    const orphan = await storeUnannounced(key, clock.now())
    await clock.advance(100)
    // c starts, reads the orphan and asks the sender to look again: no tab leads yet.
    const c = await persistent({ persistenceKey: key, clock }, transport)
    expect(c.outbox.size.value).toBe(1)
    await clock.advance(1900) // b leads (heartbeats), its read still going
    release()
    await until(() => b.status(orphan).value === 'delivered')
    expect(transport.sent()).toEqual([orphan])
  })

  it('deletes an acked item still stored (its sender closed before the delete) when it takes over', async () => {
    const key = uniqueKey('test')
    const transport = fakeTransport()
    const clock = fakeClock()
    const inner = idbStorage(key)
    // The first sender never gets its deletes written, as if its tab closed right after each ack.
    const lossy: OutboxStorage = { ...inner, write: (puts) => inner.write(puts, []) }
    const a = await persistent({ persistenceKey: key, clock, storage: lossy }, transport)
    const b = await persistent({ persistenceKey: key, clock }, transport)
    await clock.advance(2000)
    const x = a.outbox.emit('m', { n: 1 })
    await until(() => b.outbox.status(x.emitId).value === 'delivered')
    expect((await inner.load()).map(([id]) => id)).toEqual([x.emitId])
    await a.outbox.close()
    await clock.advance(3000) // b leads, re-reads storage, and deletes what it knows was acked
    await turns(100)
    await clock.advance(LAZY_DELETE_MS)
    await turns(100)
    expect(await inner.load()).toEqual([])
    const c = await persistent({ persistenceKey: key, clock }, transport)
    expect(c.outbox.size.value).toBe(0)
    expect(transport.sent()).toEqual([x.emitId])
  })

  it('hands over when the sender closes, without resending what was acked', async () => {
    const key = uniqueKey('test')
    const transport = fakeTransport()
    const clock = fakeClock()
    const a = await persistent({ persistenceKey: key, clock }, transport)
    const b = await persistent({ persistenceKey: key, clock, network: manualNetwork(true) }, transport)
    await clock.advance(2000)
    const first = a.outbox.emit('m', { n: 1 })
    await until(
      () => b.outbox.status(first.emitId).value === 'delivered' || a.outbox.status(first.emitId).value === 'delivered',
    )
    await a.outbox.close()
    const second = b.outbox.emit('m', { n: 2 })
    await clock.advance(3000)
    await until(() => b.outbox.status(second.emitId).value === 'delivered')
    expect(transport.sent()).toEqual([first.emitId, second.emitId])
  })
})
