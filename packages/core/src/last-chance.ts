import { envelopeOf } from './envelope.ts'
import { laneIds } from './lanes.ts'
import type { Queue } from './queue.ts'
import type { EmitEnvelope, OutboxItem, Transport } from './types.ts'

/**
 * The last moment of a closing page: each lane with nothing in flight hands its next items (one
 * request per lane, so nothing overtakes) to the transport's `sendBeacon` (keepalive requests).
 * They stay stored until a later session sees their ack; the server deduplicates the resend.
 * The host says when (its lifecycle's `hide`); the caller says whether this outbox may send now.
 */
export function sendLastChance(queue: Queue, transport: Transport): void {
  const beacon = transport.sendBeacon
  if (!beacon) return
  const perLane = Math.max(1, transport.maxBatch ?? 1)
  const groups: EmitEnvelope[][] = []
  for (const lane of queue.lanes.keys()) {
    const items = laneIds(queue.lanes, lane, perLane).map((id) => queue.get(id)?.item)
    if (items.some((item) => !item || item.status === 'sending')) continue
    groups.push(items.map((item) => envelopeOf(item as OutboxItem)))
  }
  if (groups.length > 0) beacon.call(transport, groups)
}
