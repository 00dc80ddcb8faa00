import 'fake-indexeddb/auto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { browserHost } from '../src/host.ts'
import { createOutbox } from '../src/outbox.ts'
import { memoryStorage } from '../src/storage.ts'
import { fakeTransport } from '../src/testing.ts'

/**
 * A Web Locks manager like the browser's, shared by every context of one origin: exclusive
 * locks granted in request order; a held lock passes to the next waiter when its callback settles.
 */
function fakeLocks() {
  const held = new Map<string, true>()
  const waiting: Array<{ name: string; grant: () => void; signal?: AbortSignal }> = []
  const requested: string[] = []
  const next = (name: string) => {
    if (held.has(name)) return
    const i = waiting.findIndex((w) => w.name === name && !w.signal?.aborted)
    if (i < 0) return
    const [w] = waiting.splice(i, 1)
    held.set(name, true)
    queueMicrotask(() => w?.grant()) // as the browser does: never inside request()
  }
  const manager = {
    requested,
    request(name: string, options: { signal?: AbortSignal }, callback: () => Promise<void>): Promise<void> {
      requested.push(name)
      return new Promise<void>((resolve, reject) => {
        options.signal?.addEventListener('abort', () => {
          reject(new DOMException('aborted', 'AbortError'))
          next(name)
        })
        waiting.push({
          name,
          signal: options.signal,
          grant: () =>
            void callback().finally(() => {
              held.delete(name)
              resolve()
              next(name)
            }),
        })
        next(name)
      })
    },
    async query() {
      return {
        held: [...held.keys()].map((name) => ({ name })),
        pending: waiting.filter((w) => !w.signal?.aborted).map((w) => ({ name: w.name })),
      }
    },
  }
  return manager
}

afterEach(() => vi.unstubAllGlobals())

describe('in a worker (no window, no document, no online events)', () => {
  it('has a default host with what a worker has and no-ops for the rest', async () => {
    expect(typeof window).toBe('undefined')
    const host = browserHost()
    expect(host.network.online).toBe(true)
    const hide = vi.fn()
    host.lifecycle({ hide, restore: () => {} })()
    expect(hide).not.toHaveBeenCalled()
    const signal = new AbortController().signal
    expect(host.deferSend?.({ url: '/e', method: 'POST', headers: {} }, signal)).toBe(false)
    expect(await host.registerSync?.('outbox:k')).toBe(false)
  })

  it('delivers with the default host, persistent items in IndexedDB', async () => {
    vi.stubGlobal('navigator', { locks: fakeLocks() })
    const transport = fakeTransport()
    const outbox = createOutbox({ transport, mode: 'persistent', persistenceKey: `worker-${Math.random()}` })
    await outbox.ready
    const e = outbox.emit('m', { chatId: 'a' })
    expect(await outbox.delivered(e.emitId)).toMatchObject({ ok: true })
    await outbox.close()
  })

  it('shares one sender with a page on the same key: the same Web Lock, one sending at a time', async () => {
    const locks = fakeLocks()
    vi.stubGlobal('navigator', { locks })
    const storage = memoryStorage()
    const pageTransport = fakeTransport()
    const workerTransport = fakeTransport()
    const page = createOutbox({ transport: pageTransport, mode: 'persistent', persistenceKey: 'chat', storage })
    await page.ready
    const worker = createOutbox({ transport: workerTransport, mode: 'persistent', persistenceKey: 'chat', storage })
    await worker.ready
    expect(locks.requested).toEqual(['outbox:chat', 'outbox:chat'])
    const fromPage = page.emit('m', { chatId: 'a' })
    await page.delivered(fromPage.emitId)
    await page.close()
    const fromWorker = worker.emit('m', { chatId: 'a' })
    await worker.delivered(fromWorker.emitId)
    expect(pageTransport.sent().map((e) => e.emitId)).toEqual([fromPage.emitId])
    expect(workerTransport.sent().map((e) => e.emitId)).toEqual([fromWorker.emitId])
    await worker.close()
  })
})

describe('the browser glue of the host', () => {
  it('arms fetchLater with method, headers, body and signal, and no activateAfter', () => {
    const fetchLater = vi.fn(() => ({ activated: false }))
    vi.stubGlobal('fetchLater', fetchLater)
    const signal = new AbortController().signal
    const request = { url: 'https://api.example/events', method: 'POST', headers: { a: '1' }, body: '{}' }
    expect(browserHost().deferSend?.(request, signal)).toBe(true)
    expect(fetchLater).toHaveBeenCalledWith('https://api.example/events', {
      method: 'POST',
      headers: { a: '1' },
      body: '{}',
      signal,
    })
  })

  it("lets the browser's QuotaExceededError through, for the caller to arm fewer", () => {
    vi.stubGlobal('fetchLater', () => {
      throw new DOMException('quota', 'QuotaExceededError')
    })
    const signal = new AbortController().signal
    expect(() => browserHost().deferSend?.({ url: '/e', method: 'POST', headers: {} }, signal)).toThrow(
      expect.objectContaining({ name: 'QuotaExceededError' }),
    )
  })

  it('registers the tag on the active service worker registration where SyncManager exists', async () => {
    const register = vi.fn(async () => {})
    const registration = { active: {}, sync: { register } }
    vi.stubGlobal('navigator', { serviceWorker: { getRegistration: async () => registration } })
    expect(await browserHost().registerSync?.('outbox:k'), 'without SyncManager').toBe(false)
    vi.stubGlobal('SyncManager', function SyncManager() {})
    expect(await browserHost().registerSync?.('outbox:k')).toBe(true)
    expect(register).toHaveBeenCalledWith('outbox:k')
    registration.active = undefined as never
    expect(await browserHost().registerSync?.('outbox:k'), 'no active worker').toBe(false)
    vi.stubGlobal('navigator', { serviceWorker: { getRegistration: async () => undefined } })
    expect(await browserHost().registerSync?.('outbox:k'), 'no registration').toBe(false)
  })
})
