import { batch } from '@preact/signals-core'
import { type EmitPolicy, resolvePolicy } from './coalesce.ts'
import { assertSize, envelopeOf, resolveKeys, takePayload } from './envelope.ts'
import { InvalidEmitError, OutboxClosedError, OutboxFullError } from './errors.ts'
import type { Queue } from './queue.ts'
import type { Settlement } from './settlement.ts'
import type { Clock, CoalesceOptions, EmitEnvelope, EmitOptions, OutboxItem } from './types.ts'

/**
 * A pending item with the same property order every time: one hidden class for all items (a
 * spread of a parsed envelope gives each its own, about 300 bytes apiece).
 */
const newItem = (e: EmitEnvelope): OutboxItem => ({
  emitId: e.emitId,
  event: e.event,
  payload: e.payload,
  keys: e.keys,
  lane: e.lane,
  createdAt: e.createdAt,
  status: 'queued',
  attempts: 0,
})

/** `payload.chatId ?? payload.streamId ?? 'default'` */
export const defaultLane = (_event: string, payload: Record<string, unknown>): string => {
  const lane = payload.chatId ?? payload.streamId
  return typeof lane === 'string' || typeof lane === 'number' ? String(lane) : 'default'
}

export type EmitContext = {
  /** True once the outbox is closed: emit then throws. */
  closed: () => boolean
  queue: Queue
  settlement: Settlement
  clock: Clock
  coalesce: Required<CoalesceOptions>
  laneOf: (event: string, payload: Record<string, unknown>) => string
  maxSize: number
  nextId: (now: number) => string
  /** Called before the queue changes, so the first send starts before subscribers hear of a burst. */
  beforeAdd: () => void
  /** The item was queued (another tab may send for this key: non-durable items go to it directly). */
  added: (envelope: EmitEnvelope, policy: EmitPolicy) => void
}

/**
 * The first step of the data path: validates the payload, stamps the envelope (ULID `emitId`),
 * then lets dedupe (semantic keys) and coalescing decide what enters the queue. Throws, and
 * queues nothing, on bad input, a full queue or a closed outbox.
 */
export function createEmit(ctx: EmitContext) {
  const { queue, settlement, clock } = ctx
  return function emit(event: string, input: Record<string, unknown>, opts?: EmitOptions): EmitEnvelope {
    if (ctx.closed()) throw new OutboxClosedError()
    const { payload, bound } = takePayload(event, input)
    const keys = resolveKeys(payload, opts?.keys)
    const lane = opts?.lane ?? ctx.laneOf(event, payload)
    if (typeof lane !== 'string' || lane === '')
      throw new InvalidEmitError('The lane must be a non-empty string (check options.lane or the lane function).', {
        path: 'lane',
      })
    const duplicate = keys && queue.find(keys)
    if (duplicate) return envelopeOf(duplicate.item)
    const now = clock.now()
    const policy = resolvePolicy(event, payload, lane, opts, ctx.coalesce, now)
    // Replaces every item of the same key that is not yet in flight (one may be in flight).
    const replaced = policy.coalesceKey === undefined ? [] : queue.findAll(policy.coalesceKey)
    if (queue.entries().size - replaced.length >= ctx.maxSize) throw new OutboxFullError(ctx.maxSize)
    const envelope: EmitEnvelope = { emitId: ctx.nextId(now), event, payload, lane, createdAt: now }
    if (keys) envelope.keys = keys
    assertSize(envelope, bound)
    ctx.beforeAdd()
    batch(() => {
      for (const entry of replaced) settlement.drop(entry.item.emitId, 'coalesced')
      settlement.add({ item: newItem(envelope), policy, ageFrom: now, failSeq: 0 })
    })
    ctx.added(envelope, policy)
    return envelope
  }
}
