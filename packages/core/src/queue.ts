import { computed, signal } from '@preact/signals-core'
import type { EmitPolicy } from './coalesce.ts'
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

const keyIds = (keys: EmitKeys | undefined, coalesceKey: string | undefined): string[] => {
  const ids: string[] = []
  if (keys?.messageId !== undefined) ids.push(`m\u0000${keys.messageId}`)
  if (keys?.requestId !== undefined) ids.push(`r\u0000${keys.requestId}`)
  if (coalesceKey !== undefined) ids.push(`c\u0000${coalesceKey}`)
  return ids
}

/**
 * A lane's pending emitIds in order, from `head` on. Acks remove heads, so removing one moves
 * `head` instead of shifting the array (which costs O(n) for a long lane); the dead prefix is cut
 * off once it is half the array.
 */
export type Lane = { ids: string[]; head: number }

/** Inserts `id` into a lane kept sorted by emitId (ULIDs sort by emit order). */
const insertSorted = (lane: Lane, id: string): void => {
  const { ids } = lane
  let hi = ids.length
  if ((ids[hi - 1] as string) < id) {
    ids.push(id)
    return
  }
  let lo = lane.head
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((ids[mid] as string) < id) lo = mid + 1
    else hi = mid
  }
  ids.splice(lo, 0, id)
}

/**
 * The queue's state and every transition on it. Items are immutable snapshots; each transition
 * replaces them and bumps a version signal, so the `pending` and `failed` lists are recomputed
 * lazily, once per read after a burst, not once per change.
 */
export function createQueue() {
  let entries = new Map<string, Entry>()
  const failedItems = new Map<string, FailedItem>()
  /** Lane → its pending emitIds in order. Map order is the scheduler's round-robin order. */
  const lanes = new Map<string, Lane>()
  /**
   * Semantic and coalesce keys → the pending emitId holding them, or a set of them in the rare case
   * of several (a retry can make two): most keys cost one map entry, not a set.
   */
  const index = new Map<string, string | Set<string>>()
  const idsOf = (k: string): Iterable<string> => {
    const ids = index.get(k)
    return ids === undefined ? [] : typeof ids === 'string' ? [ids] : ids
  }
  const pendingVersion = signal(0)
  const failedVersion = signal(0)
  let maxId = ''

  const bumpPending = () => void pendingVersion.value++
  const bumpFailed = () => void failedVersion.value++

  const addToLane = (entry: Entry) => {
    const lane = lanes.get(entry.item.lane)
    if (lane) insertSorted(lane, entry.item.emitId)
    else lanes.set(entry.item.lane, { ids: [entry.item.emitId], head: 0 })
  }

  const removeFromLane = (item: OutboxItem) => {
    const lane = lanes.get(item.lane)
    if (!lane) return
    const { ids } = lane
    if (ids[lane.head] === item.emitId) lane.head++
    else {
      const at = ids.indexOf(item.emitId, lane.head)
      if (at > 0) ids.splice(at, 1)
    }
    if (lane.head === ids.length) lanes.delete(item.lane)
    else if (lane.head > 64 && lane.head * 2 > ids.length) {
      ids.splice(0, lane.head)
      lane.head = 0
    }
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
    /** Read to depend on every change of the queue. */
    version: computed(() => pendingVersion.value + failedVersion.value),

    get: (emitId: string): Entry | undefined => entries.get(emitId),

    /** The emitId at `index` in a lane (0 is its head). */
    laneAt(name: string, index: number): string | undefined {
      const lane = lanes.get(name)
      return lane?.ids[lane.head + index]
    },

    /** Moves a lane to the end of the scheduler's round-robin order (`lanes` iterates in it). */
    toBack(name: string): void {
      const lane = lanes.get(name)
      if (!lane) return
      lanes.delete(name)
      lanes.set(name, lane)
    },

    /** Up to `count` emitIds from the head of a lane, in order. */
    laneIds(name: string, count = Number.POSITIVE_INFINITY): string[] {
      const lane = lanes.get(name)
      return lane ? lane.ids.slice(lane.head, lane.head + count) : []
    },

    /** The first pending entry holding one of these semantic keys, if any. */
    find(keys: EmitKeys | undefined): Entry | undefined {
      for (const k of keyIds(keys, undefined))
        for (const id of idsOf(k)) {
          const entry = entries.get(id)
          if (entry) return entry
        }
      return undefined
    },

    /** Every pending entry with this coalesce key that is not in flight. */
    findAll(coalesceKey: string): Entry[] {
      const found: Entry[] = []
      for (const id of idsOf(`c\u0000${coalesceKey}`)) {
        const entry = entries.get(id)
        if (entry && entry.item.status !== 'sending') found.push(entry)
      }
      return found
    },

    add(entry: Entry): void {
      const id = entry.item.emitId
      if (id > maxId) {
        entries.set(id, entry)
        maxId = id
      } else {
        // An older id (loaded from storage, or a failed item retried) goes back to its place.
        const all: Array<[string, Entry]> = [...entries, [id, entry]]
        entries = new Map(all.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      }
      addToLane(entry)
      for (const k of keyIds(entry.item.keys, entry.policy.coalesceKey)) {
        const ids = index.get(k)
        if (ids === undefined) index.set(k, id)
        else if (typeof ids === 'string') index.set(k, new Set([ids, id]))
        else ids.add(id)
      }
      bumpPending()
    },

    update(emitId: string, patch: Partial<OutboxItem>, meta?: Partial<Entry>): Entry | undefined {
      const entry = entries.get(emitId)
      if (!entry) return undefined
      const next: Entry = { ...entry, ...meta, item: { ...entry.item, ...patch } }
      entries.set(emitId, next)
      bumpPending()
      return next
    },

    remove(emitId: string): Entry | undefined {
      const entry = entries.get(emitId)
      if (!entry) return undefined
      entries.delete(emitId)
      removeFromLane(entry.item)
      for (const k of keyIds(entry.item.keys, entry.policy.coalesceKey)) {
        const ids = index.get(k)
        if (ids === emitId) index.delete(k)
        else if (typeof ids === 'object' && ids.delete(emitId) && ids.size === 0) index.delete(k)
      }
      bumpPending()
      return entry
    },

    /** Moves a pending item to the failed list. */
    fail(emitId: string, error: DeliveryError): FailedItem | undefined {
      const entry = this.remove(emitId)
      if (!entry) return undefined
      const { status: _s, nextAttemptAt: _n, lastError: _l, ...envelope } = entry.item
      const failed: FailedItem = { ...envelope, status: 'failed', error }
      failedItems.set(emitId, failed)
      bumpFailed()
      return failed
    },

    addFailed(item: FailedItem): void {
      failedItems.set(item.emitId, item)
      bumpFailed()
    },

    removeFailed(emitId: string): FailedItem | undefined {
      const item = failedItems.get(emitId)
      if (!item) return undefined
      failedItems.delete(emitId)
      bumpFailed()
      return item
    },

    clear(): void {
      entries = new Map()
      failedItems.clear()
      lanes.clear()
      index.clear()
      bumpPending()
      bumpFailed()
    },
  }
}

export type Queue = ReturnType<typeof createQueue>
