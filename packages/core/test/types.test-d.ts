import type { ReadonlySignal } from '@preact/signals-core'
import { describe, expectTypeOf, it } from 'vitest'
import {
  createOutbox,
  type DeliveryError,
  type DeliveryResult,
  type EmitEnvelope,
  type FailedItem,
  httpTransport,
  type InvalidEmitError,
  type Outbox,
  type OutboxError,
  type OutboxItem,
  type OutboxState,
  type Transport,
} from '../src/index.ts'

const outbox = createOutbox({ transport: httpTransport({ url: '/api/events' }) })

describe('public types', () => {
  it('emit returns an envelope', () => {
    expectTypeOf(outbox.emit('user:message', { text: 'hi' })).toEqualTypeOf<EmitEnvelope>()
    expectTypeOf(outbox.emit).parameter(1).toEqualTypeOf<Record<string, unknown>>()
    // @ts-expect-error the payload must be an object
    outbox.emit('e', 'text')
  })

  it('exposes read-only signals', () => {
    expectTypeOf(outbox.pending).toEqualTypeOf<ReadonlySignal<readonly OutboxItem[]>>()
    expectTypeOf(outbox.failed).toEqualTypeOf<ReadonlySignal<readonly FailedItem[]>>()
    expectTypeOf(outbox.size).toEqualTypeOf<ReadonlySignal<number>>()
    expectTypeOf(outbox.online).toEqualTypeOf<ReadonlySignal<boolean>>()
  })

  it('narrows item statuses', () => {
    expectTypeOf<OutboxItem['status']>().toEqualTypeOf<'queued' | 'sending' | 'waiting'>()
    expectTypeOf<FailedItem['status']>().toEqualTypeOf<'failed'>()
    expectTypeOf<OutboxState['breaker']>().toEqualTypeOf<'closed' | 'open' | 'half-open'>()
    expectTypeOf<DeliveryError['kind']>().toEqualTypeOf<
      'http' | 'network' | 'rejected' | 'invalid-ack' | 'expired' | 'storage'
    >()
  })

  it('follows the Svelte store contract', () => {
    expectTypeOf(outbox.subscribe).parameter(0).toEqualTypeOf<(state: OutboxState) => void>()
    expectTypeOf(outbox.subscribe).returns.toEqualTypeOf<() => void>()
  })

  it('types event payloads by name', () => {
    outbox.on('outbox:failed', (e) => {
      expectTypeOf(e.error).toEqualTypeOf<DeliveryError>()
      expectTypeOf(e.envelope).toEqualTypeOf<EmitEnvelope>()
    })
    outbox.on('outbox:dropped', (e) => expectTypeOf(e.reason).toEqualTypeOf<'coalesced' | 'stale' | 'discarded'>())
    outbox.on('outbox:flushed', () => {})
    expectTypeOf(outbox.delivered).returns.toEqualTypeOf<Promise<Record<string, unknown>>>()
  })

  it('describes transports and results', () => {
    expectTypeOf(httpTransport({ url: '/x' })).toMatchTypeOf<Transport>()
    const result = {} as DeliveryResult
    if (result.ok) expectTypeOf(result.ack).toEqualTypeOf<Record<string, unknown>>()
    else expectTypeOf(result.error).toEqualTypeOf<DeliveryError>()
  })

  it('keeps one error hierarchy', () => {
    expectTypeOf<InvalidEmitError>().toMatchTypeOf<OutboxError>()
    expectTypeOf<InvalidEmitError['name']>().toEqualTypeOf<'InvalidEmitError'>()
    expectTypeOf<Outbox['close']>().parameter(0).toEqualTypeOf<{ flush?: boolean } | undefined>()
  })
})
