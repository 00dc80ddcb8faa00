import { render, screen } from '@testing-library/svelte'
import { describe, expect, it } from 'vitest'
import { deliveryStatus, getOutbox } from '../src/index.ts'
import NoProvider from './components/NoProvider.svelte'
import RunesQueue from './components/RunesQueue.svelte'
import WithOutbox from './components/WithOutbox.svelte'
import { setup } from './helpers.ts'

describe('setOutbox / getOutbox', () => {
  it('hands the outbox to descendants', () => {
    const { outbox } = setup()
    outbox.emit('user:message', { text: 'hi' })
    render(WithOutbox, { props: { outbox, child: RunesQueue } })
    expect(screen.getByText('1 pending, online')).toBeTruthy()
  })

  it('throws an error that says what to do when no ancestor set one', () => {
    expect(() => render(NoProvider)).toThrow(/no outbox in context.*setOutbox/)
  })

  it('is what views use when no outbox is passed', () => {
    expect(() => deliveryStatus('id')).toThrow()
    expect(() => getOutbox()).toThrow()
  })
})
