import type { OutboxItem } from './types.ts'

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

/** The lanes of the queue: each lane's pending emitIds in order, and the round-robin order of lanes. */
export interface Lanes {
  /** Lane → its pending emitIds in order. Map order is the scheduler's round-robin order. */
  readonly map: Map<string, Lane>
  add(item: OutboxItem): void
  remove(item: OutboxItem): void
  /** The emitId at `index` in a lane (0 is its head). */
  at(name: string, index: number): string | undefined
  /** Moves a lane to the end of the scheduler's round-robin order. */
  toBack(name: string): void
  /** Up to `count` emitIds from the head of a lane, in order. */
  ids(name: string, count?: number): string[]
}

export function createLanes(): Lanes {
  const map = new Map<string, Lane>()
  return {
    map,
    add(item) {
      const lane = map.get(item.lane)
      if (lane) insertSorted(lane, item.emitId)
      else map.set(item.lane, { ids: [item.emitId], head: 0 })
    },
    remove(item) {
      const lane = map.get(item.lane)
      if (!lane) return
      const { ids } = lane
      if (ids[lane.head] === item.emitId) lane.head++
      else {
        const at = ids.indexOf(item.emitId, lane.head)
        if (at > 0) ids.splice(at, 1)
      }
      if (lane.head === ids.length) map.delete(item.lane)
      else if (lane.head > 64 && lane.head * 2 > ids.length) {
        ids.splice(0, lane.head)
        lane.head = 0
      }
    },
    at(name, index) {
      const lane = map.get(name)
      return lane?.ids[lane.head + index]
    },
    toBack(name) {
      const lane = map.get(name)
      if (!lane) return
      map.delete(name)
      map.set(name, lane)
    },
    ids(name, count = Number.POSITIVE_INFINITY) {
      const lane = map.get(name)
      return lane ? lane.ids.slice(lane.head, lane.head + count) : []
    },
  }
}
