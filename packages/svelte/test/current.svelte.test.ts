import { expect, it } from 'vitest'
import { fromSignal } from '../src/index.ts'
import { settle, setup } from './helpers.ts'

it('makes `current` reactive in runes code outside components', async () => {
  const { outbox, transport, subscriptions } = setup()
  const size = fromSignal(outbox.size)
  const seen: number[] = []
  const cleanup = $effect.root(() => {
    $effect(() => {
      seen.push(size.current)
    })
  })
  await settle()
  outbox.emit('user:message', { text: 'hi' })
  await settle()
  transport.answer()
  await settle()
  expect(seen).toEqual([0, 1, 0])

  cleanup()
  await settle()
  expect(subscriptions()).toBe(0)
})
