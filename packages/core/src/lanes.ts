import type { OutboxItem } from './types.ts'

/**
 * A lane's pending emitIds in order, from `head` on. Acks remove heads, so removing one moves
 * `head` instead of shifting the array (which costs O(n) for a long lane); the dead prefix is cut
 * off once it is half the array.
 */
export type Lane = { ids: string[]; head: number }

/**
 * The lanes of the queue: lane → its pending emitIds in order. Map order is the scheduler's
 * round-robin order. Free functions over the map (their names minify; methods' would not).
 */
export type Lanes = Map<string, Lane>

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

export function addToLane(lanes: Lanes, item: OutboxItem): void {
  const lane = lanes.get(item.lane)
  if (lane) insertSorted(lane, item.emitId)
  else lanes.set(item.lane, { ids: [item.emitId], head: 0 })
}

export function removeFromLane(lanes: Lanes, item: OutboxItem): void {
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

/** The emitId at `index` in a lane (0 is its head). */
export function laneAt(lanes: ReadonlyMap<string, Lane>, name: string, index: number): string | undefined {
  const lane = lanes.get(name)
  return lane?.ids[lane.head + index]
}

/** Moves a lane to the end of the scheduler's round-robin order. */
export function toBack(lanes: Lanes, name: string): void {
  const lane = lanes.get(name)
  if (!lane) return
  lanes.delete(name)
  lanes.set(name, lane)
}

/** Up to `count` emitIds from the head of a lane, in order. */
export function laneIds(lanes: ReadonlyMap<string, Lane>, name: string, count = Infinity): string[] {
  const lane = lanes.get(name)
  return lane ? lane.ids.slice(lane.head, lane.head + count) : []
}
