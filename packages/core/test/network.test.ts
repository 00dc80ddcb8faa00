import { describe, expect, it } from 'vitest'
import { alwaysOnline, browserNetwork, defaultNetwork, manualNetwork } from '../src/network.ts'
import { ack, fakeTransport, httpError, setup } from './helpers.ts'

/** A stand-in window: an EventTarget with navigator.onLine. */
function fakeWindow(onLine = true) {
  const target = new EventTarget() as EventTarget & { navigator: { onLine: boolean }; listeners: number }
  target.navigator = { onLine }
  target.listeners = 0
  const add = target.addEventListener.bind(target)
  const remove = target.removeEventListener.bind(target)
  target.addEventListener = (...args: Parameters<typeof add>) => {
    target.listeners++
    add(...args)
  }
  target.removeEventListener = (...args: Parameters<typeof remove>) => {
    target.listeners--
    remove(...args)
  }
  return target
}

describe('network', () => {
  it('sends nothing while offline and everything once back online', async () => {
    const transport = fakeTransport()
    const { outbox, network, clock } = setup({}, transport)
    network.set(false)
    expect(outbox.online.value).toBe(false)
    outbox.emit('m', { chatId: 'a' })
    outbox.emit('m', { chatId: 'b' })
    await clock.advance(60_000)
    expect(transport.calls).toHaveLength(0)
    network.set(true)
    await clock.advance(0)
    expect(transport.calls).toHaveLength(2)
    expect(outbox.size.value).toBe(0)
  })

  it('cuts backoff waits short on reconnect: every lane tries at once', async () => {
    let up = false
    const transport = fakeTransport((b) => b.map((e) => (up ? ack(e) : httpError(e, 500))))
    const { outbox, network, clock } = setup({ retry: { baseMs: 60_000, maxMs: 60_000 } }, transport)
    outbox.emit('m', { chatId: 'a' })
    outbox.emit('m', { chatId: 'b' })
    await clock.advance(0)
    expect(outbox.pending.value.every((i) => i.status === 'waiting')).toBe(true)
    network.set(false)
    up = true
    network.set(true)
    await clock.advance(0)
    expect(transport.calls).toHaveLength(4)
    expect(outbox.size.value).toBe(0)
  })

  it('still backs off after a network error while online is true', async () => {
    const transport = fakeTransport((b) =>
      b.map((e) => ({
        emitId: e.emitId,
        ok: false as const,
        error: { kind: 'network' as const, message: 'x', retryable: true },
      })),
    )
    const { outbox, clock } = setup({}, transport)
    outbox.emit('m', {})
    await clock.advance(399)
    expect(transport.calls).toHaveLength(1)
  })

  it('follows window online/offline events, attaching listeners on first use and detaching on close', async () => {
    const win = fakeWindow(true)
    const network = browserNetwork(win as unknown as Window)
    expect(win.listeners).toBe(0)
    const { outbox } = setup({ network })
    expect(win.listeners).toBe(2)
    win.navigator.onLine = false
    win.dispatchEvent(new Event('offline'))
    expect(outbox.online.value).toBe(false)
    win.navigator.onLine = true
    win.dispatchEvent(new Event('online'))
    expect(outbox.online.value).toBe(true)
    await outbox.close()
    expect(win.listeners).toBe(0)
  })

  it('is always online without a window', () => {
    expect(typeof window).toBe('undefined')
    expect(defaultNetwork()).toBe(alwaysOnline)
    expect(alwaysOnline.online).toBe(true)
  })

  it('offers a monitor switched by hand, which tells listeners of changes only', () => {
    const network = manualNetwork(false)
    const heard: boolean[] = []
    const stop = network.subscribe((online) => heard.push(online))
    network.set(false)
    network.set(true)
    network.set(true)
    expect(heard).toEqual([true])
    expect(network.online).toBe(true)
    stop()
    expect(network.listenerCount()).toBe(0)
  })
})
