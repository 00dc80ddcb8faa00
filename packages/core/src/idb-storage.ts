import { clear, createStore, entries, promisifyRequest } from 'idb-keyval'
import type { OutboxStorage } from './storage.ts'

/**
 * IndexedDB storage through idb-keyval: database `outbox:<key>`, one record per item keyed by
 * `emitId`, so an emit costs one small put, never a rewrite of the queue.
 */
export function idbStorage(persistenceKey: string): OutboxStorage {
  const store = createStore(`outbox:${persistenceKey}`, 'items')
  return {
    load: () => entries<string, unknown>(store),
    loadPage: (after, limit) =>
      store('readonly', (s) => {
        const range = after === undefined ? undefined : IDBKeyRange.lowerBound(after, true)
        return Promise.all([
          promisifyRequest(s.getAllKeys(range, limit)),
          promisifyRequest(s.getAll(range, limit)),
        ]).then(([keys, values]) => keys.map((key, i): [string, unknown] => [key as string, values[i]]))
      }),
    write: (puts, deletes) =>
      store('readwrite', (s) => {
        for (const [key, value] of puts) s.put(value, key)
        for (const key of deletes) s.delete(key)
        return promisifyRequest(s.transaction)
      }),
    clear: () => clear(store),
  }
}
