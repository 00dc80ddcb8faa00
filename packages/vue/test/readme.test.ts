import { flushPromises, mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import readme from '../README.md?raw'
import { outboxPlugin } from '../src/index.ts'
import Chat from './components/Chat.vue'
import chatSource from './components/Chat.vue?raw'
import { forbidden, setup } from './helpers.ts'

describe('the README example', () => {
  it('is the component tested here', () => {
    expect(readme).toContain('```vue\n<!-- Chat.vue -->\n' + chatSource + '```')
  })

  it('sends a message, shows it pending, then failed with its hint, and retries it', async () => {
    const { outbox, transport } = setup()
    const wrapper = mount(Chat, { props: { chatId: 'c1' }, global: { plugins: [outboxPlugin(outbox)] } })
    await wrapper.get('input').setValue('hello')
    await wrapper.get('form').trigger('submit')
    expect(wrapper.findAll('ul')[0]?.text()).toBe('hello sending…')

    transport.answer(forbidden('Sign in again and retry.'))
    await flushPromises()
    expect(wrapper.findAll('ul')[0]?.text()).toBe('')
    expect(wrapper.findAll('ul')[1]?.text()).toContain('hello — not sent. Sign in again and retry.')

    await wrapper.get('ul button').trigger('click')
    expect(wrapper.findAll('ul')[0]?.text()).toBe('hello sending…')
    transport.answer()
    await flushPromises()
    expect(wrapper.findAll('li')).toHaveLength(0)
    expect(outbox.size.value).toBe(0)
  })
})
