import { fireEvent, render, screen } from '@testing-library/svelte'
import { expect, it } from 'vitest'
import readme from '../README.md?raw'
import WithOutbox from './components/WithOutbox.svelte'
import { forbidden, settle, setup } from './helpers.ts'
import Chat from './readme/Chat.svelte'
import chatSource from './readme/Chat.svelte?raw'
import tickSource from './readme/Tick.svelte?raw'
import { UnsentBadge } from './readme/unsent.svelte.ts'
import unsentSource from './readme/unsent.svelte.ts?raw'

it('shows in the README exactly the examples tested here', () => {
  const examples = [
    ['svelte', chatSource],
    ['svelte', tickSource],
    ['ts', unsentSource],
  ] as const
  for (const [lang, source] of examples)
    expect(readme).toContain(
      '```' + lang + '\n' + source.replaceAll("'../../src/index.ts'", "'@outbox/svelte'") + '```',
    )
})

it('runs the README chat: send, tick, ack, and a failure with retry', async () => {
  const { outbox, transport, network } = setup()
  render(WithOutbox, { props: { outbox, child: Chat, chatId: 'c1' } })
  await fireEvent.input(screen.getByRole('textbox'), { target: { value: 'hello' } })
  await fireEvent.submit(screen.getByRole('textbox').closest('form')!)
  await settle()
  expect(screen.getByRole('listitem').textContent).toBe('hello 🕓')
  expect(outbox.pending.value[0]?.payload).toMatchObject({ chatId: 'c1', text: 'hello' })

  transport.answer(forbidden)
  await settle()
  expect(screen.queryAllByRole('listitem')).toHaveLength(0)
  expect(screen.getByRole('alert').textContent).toContain('“hello” was not sent. You are not allowed to do this.')

  network.set(false)
  await fireEvent.click(screen.getByRole('button', { name: 'Retry' }))
  expect(screen.getByRole('status').textContent).toBe('Offline: 1 messages will be sent when you are back.')
  expect(screen.getByRole('listitem').textContent).toBe('hello 🕓')

  network.set(true)
  await settle()
  transport.answer()
  await settle()
  expect(screen.queryAllByRole('listitem')).toHaveLength(0)
  expect(screen.queryByRole('status')).toBeNull()
})

it('runs the README badge class in runes code', async () => {
  const { outbox, subscriptions } = setup()
  const badge = new UnsentBadge(outbox)
  const labels: string[] = []
  const cleanup = $effect.root(() => {
    $effect(() => void labels.push(badge.label))
  })
  await settle()
  outbox.emit('user:message', { text: 'a' })
  outbox.emit('user:message', { text: 'b' })
  await settle()
  expect(labels).toEqual(['', '2 unsent'])
  cleanup()
  await settle()
  expect(subscriptions()).toBe(0)
})
