import type { Readable } from 'svelte/store'
import { describe, expectTypeOf, it } from 'vitest'
import {
  createOutbox,
  type DeliveryStatus,
  deliveryStatus,
  fromSignal,
  getOutbox,
  laneItems,
  type Outbox,
  type OutboxItem,
  type OutboxState,
  type SignalLike,
  type SignalStore,
  setOutbox,
} from '../src/index.ts'

declare const outbox: Outbox

describe('public types', () => {
  it('lets an outbox be used as a Svelte store of its state', () => {
    expectTypeOf(outbox).toExtend<Readable<OutboxState>>()
    expectTypeOf(createOutbox).returns.toEqualTypeOf<Outbox>()
  })

  it('types the context helpers', () => {
    expectTypeOf(setOutbox).toEqualTypeOf<(outbox: Outbox) => Outbox>()
    expectTypeOf(getOutbox).toEqualTypeOf<() => Outbox>()
  })

  it('types the status view as a store and a `current` value of DeliveryStatus', () => {
    expectTypeOf(deliveryStatus).parameters.toEqualTypeOf<[emitId: string, outbox?: Outbox]>()
    const status = deliveryStatus('id', outbox)
    expectTypeOf(status).toEqualTypeOf<SignalStore<DeliveryStatus>>()
    expectTypeOf(status).toExtend<Readable<DeliveryStatus>>()
    expectTypeOf(status.current).toEqualTypeOf<DeliveryStatus>()
    expectTypeOf<DeliveryStatus>().toEqualTypeOf<
      'queued' | 'sending' | 'waiting' | 'failed' | 'delivered' | 'unknown'
    >()
  })

  it("types the lane view as one chat's pending items", () => {
    expectTypeOf(laneItems).parameters.toEqualTypeOf<[lane: string, outbox?: Outbox]>()
    expectTypeOf(laneItems('c1').current).toEqualTypeOf<readonly OutboxItem[]>()
  })

  it('infers the value type of any core signal', () => {
    expectTypeOf(outbox.pending).toExtend<SignalLike<readonly OutboxItem[]>>()
    expectTypeOf(fromSignal(outbox.size).current).toBeNumber()
    expectTypeOf(fromSignal(outbox.online)).toEqualTypeOf<SignalStore<boolean>>()
    expectTypeOf(fromSignal(outbox.state).current.breaker).toEqualTypeOf<'closed' | 'open' | 'half-open'>()
  })

  it('rejects what is not a signal, and writes to `current`', () => {
    // @ts-expect-error a plain value is no signal
    fromSignal(42)
    const status = deliveryStatus('id', outbox)
    // @ts-expect-error `current` is read-only
    status.current = 'delivered'
  })
})
