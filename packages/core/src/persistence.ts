import { batch } from '@preact/signals-core'
import type { createEmitter } from './emitter.ts'
import { idbStorage } from './idb-storage.ts'
import { createPersister, type Persister } from './persister.ts'
import type { Queue } from './queue.ts'
import { checkRecord } from './record.ts'
import type { Scheduler } from './scheduler.ts'
import type { OutboxStorage } from './storage.ts'
import type { Store } from './store.ts'
import type { Clock, DeliveryError, OutboxEvents, OutboxOptions } from './types.ts'

type Context = {
  queue: Queue
  store: Store
  events: ReturnType<typeof createEmitter<OutboxEvents>>
  clock: Clock
  scheduler: Scheduler
}

const storageError = (message: string, cause?: unknown): DeliveryError => ({
  kind: 'storage',
  message: cause instanceof Error ? `${message}: ${cause.name}: ${cause.message}` : message,
  retryable: true,
  hint: 'Items are kept in memory and will be stored again when storage works.',
})

const memoryOnly = {
  ready: Promise.resolve(),
  leading: () => true,
  clear: async () => {},
  close: async () => {},
}

/**
 * `mode: 'persistent'`: loads stored items (in emitId order) before anything is sent, then keeps
 * storage in step with the queue through group commit. A broken store never stops delivery: the
 * outbox goes on in memory and reports `storage` errors.
 */
export function openPersistence(options: OutboxOptions, ctx: Context) {
  if (options.mode !== 'persistent') return memoryOnly
  const { queue, store, events } = ctx
  const report = (error: DeliveryError) => events.emit('outbox:error', { error })

  let storage: OutboxStorage | undefined = options.storage
  if (!storage) {
    try {
      if (typeof indexedDB === 'undefined') throw new Error('IndexedDB is not available here')
      storage = idbStorage(options.persistenceKey ?? 'outbox')
    } catch (error) {
      // Reported once the caller had a chance to listen.
      queueMicrotask(() => report(storageError('Cannot open storage; keeping items in memory', error)))
      return memoryOnly
    }
  }
  const persister: Persister = createPersister(storage, {
    onError: (error) => report(storageError('Could not store outbox items; keeping them in memory', error)),
    setTimeout: (fn, ms) => ctx.clock.setTimeout(fn, ms),
  })

  const load = async () => {
    let records: Array<[string, unknown]>
    try {
      records = await storage.load()
    } catch (error) {
      report(storageError('Could not read stored outbox items', error))
      return
    }
    batch(() => {
      for (const [key, value] of records) {
        const checked = checkRecord(String(key), value)
        if ('reason' in checked) {
          report({
            kind: 'storage',
            code: 'invalid-record',
            message: `Skipped stored record ${String(key)}: ${checked.reason}.`,
            retryable: false,
          })
          continue
        }
        const { record } = checked
        const { item } = record
        if (queue.get(item.emitId) || queue.failedItems.has(item.emitId)) continue
        if (item.status === 'failed') {
          queue.addFailed(item)
          continue
        }
        queue.add({
          // An item stored mid-flight was not acked: it goes again, under the same emitId.
          item: { ...item, status: item.status === 'sending' ? 'queued' : item.status },
          policy: { coalesceKey: record.coalesceKey, ttlMs: record.ttlMs, durable: true, holdUntil: 0 },
          ageFrom: record.ageFrom ?? item.createdAt,
          failSeq: 0,
        })
      }
    })
  }

  // Emits made before the load are stored as they happen; loaded items sort in before them.
  store.setPersister(persister)
  return {
    ready: load(),
    leading: () => true,
    async clear() {
      persister.drop()
      await persister.idle()
      try {
        await storage.clear()
      } catch (error) {
        report(storageError('Could not clear stored outbox items', error))
      }
    },
    close: () => persister.idle(),
  }
}
