import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createApp, createSSRApp, defineComponent, effectScope, h, provide } from 'vue'
import { renderToString } from 'vue/server-renderer'
import {
  OutboxError,
  OutboxNotProvidedError,
  outboxKey,
  outboxPlugin,
  useDeliveryStatus,
  useLane,
  useOutbox,
} from '../src/index.ts'
import OutboxPanel from './components/OutboxPanel.vue'
import { setup } from './helpers.ts'

afterEach(() => vi.restoreAllMocks())

describe('outboxPlugin', () => {
  it('provides the outbox to useOutbox() without an argument', async () => {
    const { outbox, liveSubscriptions } = setup()
    outbox.pause()
    const wrapper = mount(OutboxPanel, { global: { plugins: [outboxPlugin(outbox)] } })
    await wrapper.get('[data-test="send"]').trigger('click')
    expect(outbox.size.value).toBe(1)
    expect(wrapper.findAll('[data-test="pending"] li').map((li) => li.text())).toEqual(['hello 1 (queued)'])
    expect(liveSubscriptions()).toBe(1)
    wrapper.unmount()
    expect(liveSubscriptions()).toBe(0)
  })

  it('lets provide(outboxKey) give a subtree another outbox', async () => {
    const app = setup()
    const chat = setup()
    const Parent = defineComponent({
      setup() {
        provide(outboxKey, chat.outbox)
        return () => h(OutboxPanel)
      },
    })
    const wrapper = mount(Parent, { global: { plugins: [outboxPlugin(app.outbox)] } })
    await wrapper.get('[data-test="send"]').trigger('click')
    await flushPromises()
    expect(chat.transport.open).toHaveLength(1)
    expect(app.transport.open).toHaveLength(0)
  })

  it('provides through app.use on an app created with createApp', () => {
    const { outbox } = setup()
    const app = createApp({ render: () => null })
    app.use(outboxPlugin(outbox))
    const scope = effectScope()
    expect(app.runWithContext(() => scope.run(() => useOutbox().size.value))).toBe(0)
    scope.stop()
  })
})

describe('without a provided outbox', () => {
  it('throws OutboxNotProvidedError, saying how to provide one', () => {
    const scope = effectScope()
    const calls: Array<() => unknown> = [() => useOutbox(), () => useDeliveryStatus('x'), () => useLane('c1')]
    for (const call of calls) {
      const attempt = () => scope.run(call)
      expect(attempt).toThrow(OutboxNotProvidedError)
      expect(attempt).toThrow(OutboxError)
      expect(attempt).toThrow(/found no outbox\. Install the plugin with app\.use\(outboxPlugin\(outbox\)\)/)
    }
    scope.stop()
  })

  it('fails the component setup with the same error', () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {})
    let error: unknown
    try {
      mount(OutboxPanel)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(OutboxNotProvidedError)
    expect((error as Error).name).toBe('OutboxNotProvidedError')
    expect((error as Error).message).toMatch(/^useOutbox\(\) found no outbox/)
  })
})

describe('server rendering', () => {
  it('renders the current state and leaves no subscription behind', async () => {
    const { outbox, liveSubscriptions } = setup()
    outbox.pause()
    outbox.emit('user:message', { chatId: 'c1', text: 'queued before render' })
    const app = createSSRApp(OutboxPanel, { outbox })
    const html = await renderToString(app)
    expect(html).toContain('queued before render (queued)')
    expect(html).toContain('1 pending · online')
    expect(liveSubscriptions()).toBe(0)
  })
})
