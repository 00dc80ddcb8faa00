import { computed, type ReadonlySignal, signal } from '@preact/signals-core'
import type { EmitPolicy } from './coalesce.ts'
import { byCoalesceKey, bySemanticKeys, indexKeys, type KeyIndex, unindexKeys } from './key-index.ts'
import { addToLane, type Lanes, removeFromLane } from './lanes.ts'
import type { DeliveryError, EmitKeys, FailedItem, OutboxItem } from './types.ts'

/** A pending item plus the bookkeeping the scheduler needs (never shown to the UI). */
export type Entry = {
  item: OutboxItem
  policy: EmitPolicy
  /** `maxAgeMs` counts from here: `createdAt`, or the moment a failed item was retried. */
  ageFrom: number
  /** Sequence number of the last failure; backoff waits of failures up to a cutoff are skipped. */
  failSeq: number
}

/**
 * The queue's state: pending entries in emit order, the failed list, the lanes and the key index,
 * with the signals the UI reads. Only the settlement module changes it.
 */
export interface Queue {
  /**
   * Lane → its pending emitIds in order (read it with `laneAt` and `laneIds` of `lanes.ts`). Map
   * order is the scheduler's round-robin order, which only the scheduler changes (`toBack`).
   */
  readonly lanes: Lanes
  entries(): ReadonlyMap<string, Entry>
  readonly failedItems: ReadonlyMap<string, FailedItem>
  readonly pending: ReadonlySignal<readonly OutboxItem[]>
  readonly failed: ReadonlySignal<readonly FailedItem[]>
  readonly size: ReadonlySignal<number>
  /** Read to depend on every change of the queue. */
  readonly version: ReadonlySignal<number>
  get(emitId: string): Entry | undefined
  /** The first pending entry holding one of these semantic keys, if any. */
  find(keys: EmitKeys | undefined): Entry | undefined
  /** Every pending entry with this coalesce key that is not in flight. */
  findAll(coalesceKey: string): Entry[]
  add(entry: Entry): void
  update(emitId: string, patch: Partial<OutboxItem>, meta?: Partial<Entry>): Entry | undefined
  remove(emitId: string): Entry | undefined
  /** Moves a pending item to the failed list. */
  fail(emitId: string, error: DeliveryError): FailedItem | undefined
  addFailed(item: FailedItem): void
  removeFailed(emitId: string): FailedItem | undefined
  clear(): void
}

/**
 * Items are immutable snapshots; each transition replaces them and bumps a version signal, so the
 * `pending` and `failed` lists are recomputed lazily, once per read after a burst, not once per change.
 */
export function createQueue(): Queue {
  let entries = new Map<string, Entry>()
  const failedItems = new Map<string, FailedItem>()
  const lanes: Lanes = new Map()
  const index: KeyIndex = new Map()
  const pendingVersion = signal(0)
  const failedVersion = signal(0)
  let maxId = ''

  const bumpPending = () => void pendingVersion.value++
  const bumpFailed = () => void failedVersion.value++

  const remove = (emitId: string): Entry | undefined => {
    const entry = entries.get(emitId)
    if (!entry) return undefined
    entries.delete(emitId)
    removeFromLane(lanes, entry.item)
    unindexKeys(index, emitId, entry.item.keys, entry.policy.coalesceKey)
    bumpPending()
    return entry
  }

  return {
    lanes,
    entries: () => entries,
    failedItems,
    pending: computed(() => {
      pendingVersion.value
      return Array.from(entries.values(), (e) => e.item) as readonly OutboxItem[]
    }),
    failed: computed(() => {
      failedVersion.value
      return Array.from(failedItems.values()) as readonly FailedItem[]
    }),
    size: computed(() => {
      pendingVersion.value
      return entries.size
    }),
    version: computed(() => pendingVersion.value + failedVersion.value),
    get: (emitId) => entries.get(emitId),
    find(keys) {
      for (const id of bySemanticKeys(index, keys)) {
        const entry = entries.get(id)
        if (entry) return entry
      }
      return undefined
    },
    findAll(coalesceKey) {
      const found: Entry[] = []
      for (const id of byCoalesceKey(index, coalesceKey)) {
        const entry = entries.get(id)
        if (entry && entry.item.status !== 'sending') found.push(entry)
      }
      return found
    },
    add(entry) {
      const id = entry.item.emitId
      if (id > maxId) {
        entries.set(id, entry)
        maxId = id
      } else {
        // An older id (loaded from storage, or a failed item retried) goes back to its place.
        const all: Array<[string, Entry]> = [...entries, [id, entry]]
        entries = new Map(all.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      }
      addToLane(lanes, entry.item)
      indexKeys(index, id, entry.item.keys, entry.policy.coalesceKey)
      bumpPending()
    },
    update(emitId, patch, meta) {
      const entry = entries.get(emitId)
      if (!entry) return undefined
      const next: Entry = { ...entry, ...meta, item: { ...entry.item, ...patch } }
      entries.set(emitId, next)
      bumpPending()
      return next
    },
    remove,
    fail(emitId, error) {
      const entry = remove(emitId)
      if (!entry) return undefined
      const { status: _s, nextAttemptAt: _n, lastError: _l, ...envelope } = entry.item
      const failed: FailedItem = { ...envelope, status: 'failed', error }
      failedItems.set(emitId, failed)
      bumpFailed()
      return failed
    },
    addFailed(item) {
      failedItems.set(item.emitId, item)
      bumpFailed()
    },
    removeFailed(emitId) {
      const item = failedItems.get(emitId)
      if (!item) return undefined
      failedItems.delete(emitId)
      bumpFailed()
      return item
    },
    clear() {
      entries = new Map()
      failedItems.clear()
      lanes.clear()
      index.clear()
      bumpPending()
      bumpFailed()
    },
  }
}
