/// <reference lib="webworker" />
/**
 * The test service worker, bundled by `server.ts` with `@outbox/core` from source and served as
 * `/sw.js`. Its `sync` handler is the one the README shows; pages drive the rest by messages.
 */
import { createOutbox, type DrainResult, drainOutbox, httpTransport, type Outbox } from '@outbox/core'

declare const self: ServiceWorkerGlobalScope

type SyncEvent = ExtendableEvent & { tag: string; lastChance: boolean }

const retry = { baseMs: 50, maxMs: 500 }
const transport = (tab: string) => httpTransport({ url: '/events', headers: { 'x-tab': tab } })

/** Every drain this worker ran: its tag (or message) and its result. */
const drains: Array<{ tag: string; result?: DrainResult; error?: string }> = []
let outbox: Outbox | undefined

self.addEventListener('install', () => void self.skipWaiting())
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()))

self.addEventListener('sync', (event) => {
  const { tag } = event as SyncEvent
  if (!tag.startsWith('outbox:')) return
  const persistenceKey = tag.slice('outbox:'.length)
  const drain = drainOutbox({ transport: transport('sw-sync'), persistenceKey, retry }).then(
    (result) => {
      drains.push({ tag, result })
      // Rejecting asks the browser to fire `sync` again later (with backoff).
      if (result.remaining > 0) throw new Error(`${result.remaining} items are still pending`)
    },
    (error: unknown) => {
      drains.push({ tag, error: String(error) })
      throw error
    },
  )
  ;(event as SyncEvent).waitUntil(drain)
})

type Message =
  | { op: 'start'; persistenceKey: string }
  | { op: 'emit'; list: Array<{ event: string; payload: Record<string, unknown> }> }
  | { op: 'close' }
  | { op: 'drain'; persistenceKey: string }
  | { op: 'drains' }
  | { op: 'pending' }

async function run(message: Message): Promise<unknown> {
  switch (message.op) {
    case 'start':
      outbox = createOutbox({
        transport: transport('sw'),
        mode: 'persistent',
        persistenceKey: message.persistenceKey,
        retry,
      })
      await outbox.ready
      return null
    case 'emit':
      return message.list.map(({ event, payload }) => {
        const e = (outbox as Outbox).emit(event, payload)
        return { emitId: e.emitId, lane: e.lane, event: e.event }
      })
    case 'close':
      await outbox?.close()
      outbox = undefined
      return null
    case 'drain': {
      const result = await drainOutbox({
        transport: transport('sw-drain'),
        persistenceKey: message.persistenceKey,
        retry,
      })
      drains.push({ tag: 'message', result })
      return result
    }
    case 'drains':
      return drains
    case 'pending':
      return outbox?.size.peek() ?? 0
  }
}

self.addEventListener('message', (event) => {
  const port = event.ports[0]
  const work = run(event.data as Message).then(
    (value) => port?.postMessage({ ok: true, value }),
    (error: unknown) => port?.postMessage({ ok: false, error: String(error) }),
  )
  event.waitUntil(work)
})
