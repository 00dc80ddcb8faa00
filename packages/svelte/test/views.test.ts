import { render, screen } from '@testing-library/svelte'
import { get } from 'svelte/store'
import { describe, expect, it } from 'vitest'
import { deliveryStatus, fromSignal, laneItems } from '../src/index.ts'
import Chat from './components/Chat.svelte'
import LegacyChat from './components/LegacyChat.svelte'
import Tick from './components/Tick.svelte'
import TickCurrent from './components/TickCurrent.svelte'
import WithOutbox from './components/WithOutbox.svelte'
import { forbidden, settle, setup } from './helpers.ts'

const text = (testId: string) => screen.getByTestId(testId).textContent
const items = () => screen.queryAllByRole('listitem').map((li) => li.textContent)

describe('deliveryStatus', () => {
  it('ticks a message through sending to delivered', async () => {
    const { outbox, transport } = setup()
    outbox.pause()
    const { emitId } = outbox.emit('user:message', { chatId: 'c1', text: 'hi' })
    render(WithOutbox, { props: { outbox, child: Tick, emitId } })
    expect(text('tick')).toBe('queued')

    outbox.resume()
    await settle()
    expect(text('tick')).toBe('sending')

    transport.answer()
    await settle()
    expect(text('tick')).toBe('delivered')
  })

  it('shows failed after a hard error', async () => {
    const { outbox, transport } = setup()
    const { emitId } = outbox.emit('user:message', { chatId: 'c1', text: 'hi' })
    render(WithOutbox, { props: { outbox, child: Tick, emitId } })
    await settle()
    transport.answer(forbidden)
    await settle()
    expect(text('tick')).toBe('failed')
  })

  it('is unknown for an id the outbox has not seen', () => {
    const { outbox } = setup()
    expect(get(deliveryStatus('nope', outbox))).toBe('unknown')
  })

  it('re-renders runes code that reads `current`, and unsubscribes on unmount', async () => {
    const { outbox, transport, subscriptions } = setup()
    const { emitId } = outbox.emit('user:message', { chatId: 'c1', text: 'hi' })
    const { unmount } = render(TickCurrent, { props: { outbox, emitId } })
    await settle()
    expect(text('tick')).toBe('🕓 sending')
    expect(text('size')).toBe('1')
    expect(subscriptions()).toBe(2)

    transport.answer()
    await settle()
    expect(text('tick')).toBe('✓ delivered')
    expect(text('size')).toBe('0')

    unmount()
    await settle()
    expect(subscriptions()).toBe(0)
  })

  it('reads `current` outside any effect without subscribing', () => {
    const { outbox, subscriptions } = setup()
    const { emitId } = outbox.emit('user:message', { chatId: 'c1', text: 'hi' })
    expect(deliveryStatus(emitId, outbox).current).toBe('queued')
    expect(fromSignal(outbox.size).current).toBe(1)
    expect(subscriptions()).toBe(0)
  })
})

describe('laneItems', () => {
  it("lists one chat's pending items and drops each on ack", async () => {
    const { outbox, transport } = setup()
    const { unmount } = render(WithOutbox, { props: { outbox, child: Chat, chatId: 'c1' } })
    outbox.emit('user:message', { chatId: 'c1', text: 'one' })
    outbox.emit('user:message', { chatId: 'c2', text: 'elsewhere' })
    outbox.emit('user:message', { chatId: 'c1', text: 'two' })
    await settle()
    expect(items()).toEqual(['one', 'two'])

    const c1 = transport.open.findIndex((call) => call.batch[0]?.lane === 'c1')
    transport.open.push(...transport.open.splice(0, c1))
    transport.answer()
    await settle()
    expect(items()).toEqual(['two'])
    unmount()
  })
})

describe('views in legacy mode', () => {
  it('render from `$store` and leave no subscription after unmount', async () => {
    const { outbox, transport, subscriptions } = setup()
    const { emitId } = outbox.emit('user:message', { chatId: 'c1', text: 'hi' })
    const { unmount } = render(LegacyChat, { props: { outbox, chatId: 'c1', emitId } })
    await settle()
    expect(items()).toEqual(['hi'])
    expect(text('tick')).toBe('sending')
    expect(subscriptions()).toBe(2)

    transport.answer()
    await settle()
    expect(items()).toEqual([])
    expect(text('tick')).toBe('delivered')

    unmount()
    await settle()
    expect(subscriptions()).toBe(0)
  })
})

describe('store contract', () => {
  it('calls a subscriber at once, then on each change, until it unsubscribes', async () => {
    const { outbox, transport } = setup()
    const { emitId } = outbox.emit('user:message', { chatId: 'c1', text: 'hi' })
    const seen: string[] = []
    const stop = deliveryStatus(emitId, outbox).subscribe((s) => seen.push(s))
    const lane = laneItems('c1', outbox)
    const sizes: number[] = []
    const stopLane = lane.subscribe((list) => sizes.push(list.length))
    await settle()
    transport.answer()
    await settle()
    stop()
    stopLane()
    outbox.emit('user:message', { chatId: 'c1', text: 'again' })
    await settle()
    expect(seen).toEqual(['queued', 'sending', 'delivered'])
    expect(sizes.at(0)).toBe(1)
    expect(sizes.at(-1)).toBe(0)
  })
})
