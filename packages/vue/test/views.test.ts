import * as core from '@outbox/core'
import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { effectScope, isReadonly, ref } from 'vue'
import * as vue from '../src/index.ts'
import { useDeliveryStatus, useLane } from '../src/index.ts'
import DeliveryTick from './components/DeliveryTick.vue'
import LaneList from './components/LaneList.vue'
import { forbidden, setup } from './helpers.ts'

afterEach(() => vi.restoreAllMocks())

describe('useDeliveryStatus', () => {
  it('follows an item from queued through sending to delivered', async () => {
    const { outbox, transport, liveSubscriptions } = setup()
    const { emitId } = outbox.emit('user:message', { chatId: 'c1', text: 'hi' })
    const wrapper = mount(DeliveryTick, { props: { emitId }, global: { plugins: [vue.outboxPlugin(outbox)] } })
    expect(wrapper.text()).toBe('queued')
    await flushPromises()
    expect(wrapper.text()).toBe('sending')
    transport.answer()
    await flushPromises()
    expect(wrapper.text()).toBe('delivered')
    wrapper.unmount()
    expect(liveSubscriptions()).toBe(0)
  })

  it('shows failed after a hard error', async () => {
    const { outbox, transport } = setup()
    const { emitId } = outbox.emit('user:message', { chatId: 'c1', text: 'hi' })
    const wrapper = mount(DeliveryTick, { props: { emitId }, global: { plugins: [vue.outboxPlugin(outbox)] } })
    await flushPromises()
    transport.answer(forbidden('Sign in again and retry.'))
    await flushPromises()
    expect(wrapper.text()).toBe('failed')
  })

  it('shows waiting while a retryable failure backs off', async () => {
    const { outbox, transport, clock } = setup()
    const { emitId } = outbox.emit('user:message', { chatId: 'c1', text: 'hi' })
    const wrapper = mount(DeliveryTick, { props: { emitId }, global: { plugins: [vue.outboxPlugin(outbox)] } })
    await flushPromises()
    transport.answer((e) => ({
      emitId: e.emitId,
      ok: false,
      error: { kind: 'network', message: 'offline', retryable: true },
    }))
    await flushPromises()
    expect(wrapper.text()).toBe('waiting')
    clock.advance(400)
    await flushPromises()
    expect(wrapper.text()).toBe('sending')
  })

  it('follows the emitId prop when it changes', async () => {
    const { outbox } = setup()
    outbox.pause()
    const wrapper = mount(DeliveryTick, {
      props: { emitId: 'never-emitted' },
      global: { plugins: [vue.outboxPlugin(outbox)] },
    })
    expect(wrapper.text()).toBe('unknown')
    const { emitId } = outbox.emit('e', {})
    await wrapper.setProps({ emitId })
    expect(wrapper.text()).toBe('queued')
  })

  it('accepts a ref and returns a read-only ref', async () => {
    const { outbox } = setup()
    outbox.pause()
    const id = ref('')
    const scope = effectScope()
    const status = scope.run(() => useDeliveryStatus(id, outbox))!
    expect(status.value).toBe('unknown')
    id.value = outbox.emit('e', {}).emitId
    expect(status.value).toBe('queued')
    expect(isReadonly(status)).toBe(true)
    scope.stop()
  })
})

describe('useLane', () => {
  it("lists only one lane's pending items, in emit order", async () => {
    const { outbox, liveSubscriptions } = setup()
    outbox.pause()
    const wrapper = mount(LaneList, { props: { lane: 'c1' }, global: { plugins: [vue.outboxPlugin(outbox)] } })
    outbox.emit('user:message', { chatId: 'c1', text: 'one' })
    outbox.emit('user:message', { chatId: 'c2', text: 'elsewhere' })
    outbox.emit('user:message', { chatId: 'c1', text: 'two' })
    await flushPromises()
    expect(wrapper.findAll('li').map((li) => li.text())).toEqual(['one', 'two'])

    await wrapper.setProps({ lane: 'c2' })
    expect(wrapper.findAll('li').map((li) => li.text())).toEqual(['elsewhere'])
    wrapper.unmount()
    expect(liveSubscriptions()).toBe(0)
  })

  it('drops items from the lane as they are delivered', async () => {
    const { outbox, transport } = setup()
    const scope = effectScope()
    const items = scope.run(() => useLane('c1', outbox))!
    outbox.emit('user:message', { chatId: 'c1', text: 'one' })
    outbox.emit('user:message', { chatId: 'c1', text: 'two' })
    await flushPromises()
    expect(items.value.map((i) => i.payload.text)).toEqual(['one', 'two'])
    transport.answer()
    await flushPromises()
    expect(items.value.map((i) => i.payload.text)).toEqual(['two'])
    expect(isReadonly(items)).toBe(true)
    scope.stop()
  })
})

describe('exports', () => {
  it('re-exports every export of @outbox/core', () => {
    for (const [name, value] of Object.entries(core)) expect(vue).toHaveProperty(name, value)
  })
})
