import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { effectScope, isReadonly, type Ref, watch } from 'vue'
import { useOutbox } from '../src/index.ts'
import OutboxPanel from './components/OutboxPanel.vue'
import { forbidden, setup } from './helpers.ts'

const texts = (wrapper: ReturnType<typeof mount>, list: 'pending' | 'failed') =>
  wrapper.findAll(`[data-test="${list}"] li`).map((li) => li.text())

afterEach(() => {
  vi.restoreAllMocks()
  vi.unstubAllEnvs()
})

describe('useOutbox in a component', () => {
  it('renders an emitted item as pending, and removes it when the server acks', async () => {
    const { outbox, transport } = setup()
    const wrapper = mount(OutboxPanel, { props: { outbox } })
    expect(wrapper.get('[data-test="status"]').text()).toBe('0 pending · online')

    await wrapper.get('[data-test="send"]').trigger('click')
    // The lane sends at once, in the same tick, so the first render already shows it in flight.
    expect(texts(wrapper, 'pending')).toEqual(['hello 1 (sending)'])
    expect(wrapper.get('[data-test="status"]').text()).toBe('1 pending · online')
    expect(transport.open).toHaveLength(1)

    transport.answer()
    await flushPromises()
    expect(texts(wrapper, 'pending')).toEqual([])
    expect(texts(wrapper, 'failed')).toEqual([])
    expect(wrapper.get('[data-test="status"]').text()).toBe('0 pending · online')
  })

  it('shows a hard failure in the failed list with its hint', async () => {
    const { outbox, transport } = setup()
    const wrapper = mount(OutboxPanel, { props: { outbox } })
    await wrapper.get('[data-test="send"]').trigger('click')
    await flushPromises()

    transport.answer(forbidden('Sign in again and retry.'))
    await flushPromises()
    expect(texts(wrapper, 'pending')).toEqual([])
    expect(wrapper.findAll('[data-test="failed"] li')).toHaveLength(1)
    expect(wrapper.get('[data-test="failed"] .text').text()).toBe('hello 1')
    expect(wrapper.get('[data-test="failed"] .hint').text()).toBe('Sign in again and retry.')
  })

  it('moves a failed item back to pending with the same emitId when retry is clicked', async () => {
    const { outbox, transport } = setup()
    const wrapper = mount(OutboxPanel, { props: { outbox } })
    await wrapper.get('[data-test="send"]').trigger('click')
    await flushPromises()
    transport.answer(forbidden('Sign in again and retry.'))
    await flushPromises()
    const emitId = outbox.failed.value[0]?.emitId

    await wrapper.get('[data-test="failed"] .retry').trigger('click')
    expect(texts(wrapper, 'failed')).toEqual([])
    expect(texts(wrapper, 'pending')).toEqual(['hello 1 (sending)'])
    expect(transport.open[0]?.batch.map((e) => e.emitId)).toEqual([emitId])
    transport.answer()
    await flushPromises()
    expect(texts(wrapper, 'pending')).toEqual([])
  })

  it('removes a failed item when discard is clicked', async () => {
    const { outbox, transport } = setup()
    const wrapper = mount(OutboxPanel, { props: { outbox } })
    await wrapper.get('[data-test="send"]').trigger('click')
    await flushPromises()
    transport.answer(forbidden('Sign in again and retry.'))
    await flushPromises()

    await wrapper.get('[data-test="failed"] .discard').trigger('click')
    expect(texts(wrapper, 'failed')).toEqual([])
    expect(texts(wrapper, 'pending')).toEqual([])
    expect(outbox.failed.value).toEqual([])
  })

  it('renders items emitted outside the component', async () => {
    const { outbox } = setup()
    outbox.pause()
    const wrapper = mount(OutboxPanel, { props: { outbox } })
    outbox.emit('user:message', { chatId: 'c1', text: 'from elsewhere' })
    await flushPromises()
    expect(texts(wrapper, 'pending')).toEqual(['from elsewhere (queued)'])
  })

  it('holds no subscription after unmount', async () => {
    const { outbox, liveSubscriptions } = setup()
    const wrapper = mount(OutboxPanel, { props: { outbox } })
    expect(liveSubscriptions()).toBe(1)
    wrapper.unmount()
    expect(liveSubscriptions()).toBe(0)
  })
})

describe('useOutbox', () => {
  it('changes its refs once per batch, however many emits it held', async () => {
    const { outbox } = setup()
    outbox.pause()
    const scope = effectScope()
    const seen: number[] = []
    scope.run(() => {
      const { pending, size } = useOutbox(outbox)
      watch(pending, (items) => seen.push(items.length), { flush: 'sync' })
      watch(size, (n) => seen.push(n), { flush: 'sync' })
    })
    for (let i = 0; i < 5; i++) outbox.emit('e', { i })
    await flushPromises()
    expect(seen).toEqual([5, 5])
    scope.stop()
  })

  it('calls through to the outbox for flush, retry and discard', async () => {
    const { outbox, transport } = setup()
    const scope = effectScope()
    const api = scope.run(() => useOutbox(outbox))!
    const envelope = api.emit('user:message', { chatId: 'c1', text: 'hi' })
    expect(outbox.pending.value.map((i) => i.emitId)).toEqual([envelope.emitId])
    await flushPromises()
    transport.answer(forbidden('Check your access.'))
    await flushPromises()
    expect(api.failed.value.map((i) => i.emitId)).toEqual([envelope.emitId])

    api.retry()
    await flushPromises()
    expect(api.failed.value).toEqual([])
    expect(api.pending.value.map((i) => i.status)).toEqual(['sending'])

    transport.answer()
    await expect(api.flush()).resolves.toBeUndefined()
    await flushPromises()
    expect(api.size.value).toBe(0)

    const second = api.emit('e', {})
    api.discard(second.emitId)
    await flushPromises()
    expect(api.pending.value).toEqual([])
    scope.stop()
  })

  it('ends its subscription when the effect scope stops', () => {
    const { outbox, liveSubscriptions } = setup()
    const scope = effectScope()
    scope.run(() => useOutbox(outbox))
    expect(liveSubscriptions()).toBe(1)
    scope.stop()
    expect(liveSubscriptions()).toBe(0)
  })

  it('warns in development when called outside an effect scope', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const { outbox } = setup()
    useOutbox(outbox)
    expect(warn).toHaveBeenCalledOnce()
    expect(warn.mock.calls[0]?.[0]).toMatch(/useOutbox\(\) was called outside a component setup\(\) or effectScope\(\)/)
  })

  it('does not warn inside an effect scope', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const { outbox } = setup()
    const scope = effectScope()
    scope.run(() => useOutbox(outbox))
    scope.stop()
    expect(warn).not.toHaveBeenCalled()
  })

  it('does not warn in production', () => {
    vi.stubEnv('NODE_ENV', 'production')
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const { outbox } = setup()
    useOutbox(outbox)
    expect(warn).not.toHaveBeenCalled()
  })

  it('returns read-only refs that ignore writes', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {})
    const { outbox } = setup()
    outbox.pause()
    const scope = effectScope()
    const api = scope.run(() => useOutbox(outbox))!
    outbox.emit('e', {})
    await flushPromises()
    const refs = [api.pending, api.failed, api.size, api.online, api.breaker, api.state] as Ref<unknown>[]
    const before = refs.map((r) => r.value)
    for (const r of refs) {
      expect(isReadonly(r)).toBe(true)
      r.value = 'overwritten'
    }
    expect(refs.map((r) => r.value)).toEqual(before)
    expect(api.size.value).toBe(1)
    scope.stop()
  })

  it('exposes the whole state, with paused and the breaker’s retry time', async () => {
    const { outbox } = setup()
    const scope = effectScope()
    const api = scope.run(() => useOutbox(outbox))!
    expect(api.state.value.paused).toBe(false)
    outbox.pause()
    await flushPromises()
    expect(api.state.value).toMatchObject({ paused: true, breaker: 'closed', size: 0 })
    expect(api.state.value.breakerRetryAt).toBeUndefined()
    scope.stop()
  })
})
