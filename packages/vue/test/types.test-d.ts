import { describe, expectTypeOf, it } from 'vitest'
import { type App, createApp, type InjectionKey, type Ref, ref } from 'vue'
import {
  type BreakerState,
  type DeliveryStatus,
  type EmitEnvelope,
  type FailedItem,
  type Outbox,
  type OutboxError,
  type OutboxItem,
  type OutboxNotProvidedError,
  outboxKey,
  outboxPlugin,
  type UseOutboxReturn,
  useDeliveryStatus,
  useLane,
  useOutbox,
} from '../src/index.ts'

declare const outbox: Outbox

describe('useOutbox', () => {
  it('returns read-only refs of the state', () => {
    const api = useOutbox()
    expectTypeOf(api).toEqualTypeOf<UseOutboxReturn>()
    expectTypeOf(api.pending).toEqualTypeOf<Readonly<Ref<readonly OutboxItem[]>>>()
    expectTypeOf(api.failed).toEqualTypeOf<Readonly<Ref<readonly FailedItem[]>>>()
    expectTypeOf(api.size).toEqualTypeOf<Readonly<Ref<number>>>()
    expectTypeOf(api.online).toEqualTypeOf<Readonly<Ref<boolean>>>()
    expectTypeOf(api.breaker).toEqualTypeOf<Readonly<Ref<BreakerState>>>()
  })

  it('refuses writes to its refs and their items', () => {
    const { pending, size } = useOutbox(outbox)
    // @ts-expect-error read-only ref
    size.value = 2
    // @ts-expect-error read-only ref
    pending.value = []
    // @ts-expect-error read-only array
    pending.value.push({} as OutboxItem)
  })

  it("has the outbox's methods", () => {
    const api = useOutbox(outbox)
    expectTypeOf(api.emit).toEqualTypeOf<Outbox['emit']>()
    expectTypeOf(api.emit('user:message', { text: 'hi' })).toEqualTypeOf<EmitEnvelope>()
    expectTypeOf(api.flush()).toEqualTypeOf<Promise<void>>()
    expectTypeOf(api.retry).parameters.toEqualTypeOf<[emitId?: string]>()
    expectTypeOf(api.discard).parameters.toEqualTypeOf<[emitId: string]>()
    // @ts-expect-error the payload is an object
    api.emit('e', 'text')
  })

  it('takes only an outbox', () => {
    expectTypeOf(useOutbox).parameters.toEqualTypeOf<[outbox?: Outbox]>()
    // @ts-expect-error not an outbox
    useOutbox({})
  })
})

describe('useDeliveryStatus and useLane', () => {
  it('return read-only refs', () => {
    expectTypeOf(useDeliveryStatus('id')).toEqualTypeOf<Readonly<Ref<DeliveryStatus>>>()
    expectTypeOf(useLane('c1', outbox)).toEqualTypeOf<Readonly<Ref<readonly OutboxItem[]>>>()
    expectTypeOf<DeliveryStatus>().toEqualTypeOf<
      'queued' | 'sending' | 'waiting' | 'failed' | 'delivered' | 'unknown'
    >()
  })

  it('accept a string, a ref or a getter', () => {
    useDeliveryStatus(ref('id'))
    useDeliveryStatus(() => 'id', outbox)
    useLane(ref('c1'))
    useLane(() => 'c1')
    // @ts-expect-error an emitId is a string
    useDeliveryStatus(42)
    // @ts-expect-error a lane is a string
    useLane(ref(1))
  })
})

describe('outboxPlugin', () => {
  it('is a plugin app.use accepts', () => {
    const app = createApp({})
    expectTypeOf(app.use(outboxPlugin(outbox))).toExtend<App>()
    expectTypeOf(outboxKey).toEqualTypeOf<InjectionKey<Outbox>>()
  })

  it('throws an OutboxError subclass with a literal name', () => {
    expectTypeOf<OutboxNotProvidedError>().toExtend<OutboxError>()
    expectTypeOf<OutboxNotProvidedError['name']>().toEqualTypeOf<'OutboxNotProvidedError'>()
  })
})
