import { promisifyRequest } from 'idb-keyval'
import type { OutboxStorage } from './storage.ts'

/** `IDBObjectStore.getAllRecords` (Chromium 141+): keys and values in one read, not yet in lib.dom. */
type RecordsStore = IDBObjectStore & {
  getAllRecords?(options: {
    query?: IDBKeyRange
    count?: number
  }): IDBRequest<Array<{ key: IDBValidKey; value: unknown }>>
}

/** Fewer deletes than this go one by one. */
const RANGE_DELETE_MIN = 4

/**
 * Deletes `keys` inside the caller's write transaction. Acks settle runs of neighbouring keys
 * (a batch of one lane), and one range delete costs about as much as one single delete: 50
 * single deletes take 5-7x longer in Chromium. So the keys between the smallest and largest
 * are read first (in the same transaction, which no other write can enter), and every run of
 * stored keys that are all to be deleted goes in one `delete(range)`. A key that must stay
 * (another lane's item, another tab's emit) splits a run; it is never inside a deleted range.
 */
function deleteKeys(s: IDBObjectStore, keys: readonly string[]): void {
  if (keys.length < RANGE_DELETE_MIN) {
    for (const key of keys) s.delete(key)
    return
  }
  const doomed = new Set(keys)
  const sorted = [...doomed].sort()
  const limit = sorted.length * 4
  const request = s.getAllKeys(IDBKeyRange.bound(sorted[0], sorted[sorted.length - 1]), limit + 1)
  request.onsuccess = () => {
    const stored = request.result as string[]
    // Many other keys in between (a mix of lanes): one by one is cheaper than many small ranges.
    if (stored.length > limit) {
      for (const key of sorted) s.delete(key)
      return
    }
    let first: string | undefined
    let last: string | undefined
    const flush = () => {
      if (first === undefined || last === undefined) return
      s.delete(first === last ? first : IDBKeyRange.bound(first, last))
      first = last = undefined
    }
    for (const key of stored) {
      if (doomed.has(key)) {
        first ??= key
        last = key
      } else flush()
    }
    flush()
  }
}

/**
 * idb-keyval's `createStore`, plus a durability for the transaction: the same database and store,
 * opened once, reopened if the browser closes it. (idb-keyval's `entries` and `clear` are not
 * used: they would bring its own `createStore` and default store into every bundle.)
 */
function openStore(dbName: string, storeName: string) {
  let dbp: Promise<IDBDatabase> | undefined
  const db = () => {
    if (dbp) return dbp
    const request = indexedDB.open(dbName)
    request.onupgradeneeded = () => request.result.createObjectStore(storeName)
    dbp = promisifyRequest(request)
    dbp.then(
      (opened) => {
        opened.onclose = () => (dbp = undefined)
      },
      () => (dbp = undefined),
    )
    return dbp
  }
  return <T>(
    mode: IDBTransactionMode,
    callback: (store: IDBObjectStore) => T | PromiseLike<T>,
    durability?: IDBTransactionDurability,
  ): Promise<T> =>
    db().then((opened) =>
      callback(opened.transaction(storeName, mode, durability ? { durability } : undefined).objectStore(storeName)),
    )
}

/**
 * IndexedDB storage through idb-keyval: database `outbox:<key>`, one record per item keyed by
 * `emitId`, so an emit costs one small put, never a rewrite of the queue. A write that stores
 * items commits with `durability: 'strict'` (flushed to disk before it completes, so an emitted
 * event survives a power cut); group commit keeps such writes few. A write that only deletes
 * keeps the browser's default: losing it means a resend, which the server deduplicates.
 */
export function idbStorage(persistenceKey: string): OutboxStorage {
  const store = openStore(`outbox:${persistenceKey}`, 'items')
  /** Keys and values after `after` (all when undefined), at most `limit`, in key order. */
  const read = (after?: string, limit?: number) =>
    store('readonly', (s: RecordsStore) => {
      const query = after === undefined ? undefined : IDBKeyRange.lowerBound(after, true)
      // One read where the browser has it: a third faster than getAllKeys + getAll.
      if (s.getAllRecords)
        return promisifyRequest(s.getAllRecords({ query, count: limit })).then((records) =>
          records.map(({ key, value }): [string, unknown] => [key as string, value]),
        )
      return Promise.all([promisifyRequest(s.getAllKeys(query, limit)), promisifyRequest(s.getAll(query, limit))]).then(
        ([keys, values]) => keys.map((key, i): [string, unknown] => [key as string, values[i]]),
      )
    })
  return {
    load: () => read(),
    loadPage: read,
    write: (puts, deletes) =>
      store(
        'readwrite',
        (s) => {
          for (const [key, value] of puts) s.put(value, key)
          deleteKeys(s, deletes)
          return promisifyRequest(s.transaction)
        },
        puts.length > 0 ? 'strict' : undefined,
      ),
    clear: () =>
      store('readwrite', (s) => {
        s.clear()
        return promisifyRequest(s.transaction)
      }),
  }
}
