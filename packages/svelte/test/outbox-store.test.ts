import { fireEvent, render, screen, within } from '@testing-library/svelte'
import { describe, expect, it } from 'vitest'
import type { Outbox } from '../src/index.ts'
import LegacyQueue from './components/LegacyQueue.svelte'
import RunesQueue from './components/RunesQueue.svelte'
import WithOutbox from './components/WithOutbox.svelte'
import { forbidden, settle, setup } from './helpers.ts'

const modes = [
  ['runes mode', (outbox: Outbox) => render(WithOutbox, { props: { outbox, child: RunesQueue } })],
  ['legacy mode', (outbox: Outbox) => render(LegacyQueue, { props: { outbox } })],
] as const

const pendingList = () => within(screen.getByRole('list', { name: 'pending' }))
const failedList = () => within(screen.getByRole('list', { name: 'failed' }))
const HINT_403 = 'You are not allowed to do this. Check your access, then retry.'

describe.each(modes)('$outbox in %s', (_mode, mount) => {
  it('renders an emitted item as pending and drops it when the server acks', async () => {
    const { outbox, transport } = setup()
    mount(outbox)
    expect(screen.getByText('0 pending, online')).toBeTruthy()

    outbox.emit('user:message', { chatId: 'c1', text: 'hi' })
    await settle()
    expect(pendingList().getByText('hi (sending)')).toBeTruthy()
    expect(screen.getByText('1 pending, online')).toBeTruthy()

    transport.answer()
    await settle()
    expect(pendingList().queryAllByRole('listitem')).toHaveLength(0)
    expect(screen.getByText('0 pending, online')).toBeTruthy()
  })

  it('re-renders when the network goes offline and back', async () => {
    const { outbox, network } = setup()
    mount(outbox)
    network.set(false)
    await settle()
    expect(screen.getByText('0 pending, offline')).toBeTruthy()
    network.set(true)
    await settle()
    expect(screen.getByText('0 pending, online')).toBeTruthy()
  })

  it('moves a 403 to the failed list with its hint, and retry sends it again', async () => {
    const { outbox, transport } = setup()
    mount(outbox)
    outbox.emit('user:message', { chatId: 'c1', text: 'hi' })
    await settle()
    transport.answer(forbidden)
    await settle()
    expect(pendingList().queryAllByRole('listitem')).toHaveLength(0)
    expect(failedList().getByText(`hi: ${HINT_403}`, { exact: false })).toBeTruthy()

    await fireEvent.click(failedList().getByRole('button', { name: 'Retry' }))
    await settle()
    expect(failedList().queryAllByRole('listitem')).toHaveLength(0)
    expect(pendingList().getByText('hi (sending)')).toBeTruthy()
    expect(transport.open).toHaveLength(1)

    transport.answer()
    await settle()
    expect(pendingList().queryAllByRole('listitem')).toHaveLength(0)
  })

  it('removes a failed item when its discard button is clicked', async () => {
    const { outbox, transport } = setup()
    mount(outbox)
    const { emitId } = outbox.emit('user:message', { chatId: 'c1', text: 'hi' })
    await settle()
    transport.answer(forbidden)
    await settle()
    expect(failedList().getAllByRole('listitem')).toHaveLength(1)

    await fireEvent.click(failedList().getByRole('button', { name: 'Discard' }))
    await settle()
    expect(failedList().queryAllByRole('listitem')).toHaveLength(0)
    expect(outbox.status(emitId).value).toBe('unknown')
  })

  it('holds one subscription while mounted and none after unmount', async () => {
    const { outbox, subscriptions } = setup()
    const { unmount } = mount(outbox)
    expect(subscriptions()).toBe(1)
    unmount()
    await settle()
    expect(subscriptions()).toBe(0)
  })
})
