/// <reference lib="webworker" />
/**
 * The test service worker, bundled by `server.ts` with `@outbox/core` from source and served as
 * `/sw.js`. Its `sync` handler is the one the README shows; pages drive the rest by messages.
 */
import { type DrainResult, drainOutbox, type Outbox } from '@outbox/core'
import { answer, client, emitAll, retry, startOutbox } from './worker-outbox.ts'

declare const self: ServiceWorkerGlobalScope

// Background Sync's event, which TypeScript's DOM types do not have yet.
declare global {
  interface SyncEvent extends ExtendableEvent {
    readonly tag: string
    readonly lastChance: boolean
  }
  interface ServiceWorkerGlobalScopeEventMap {
    sync: SyncEvent
  }
}

const transport = client('sw-sync')

/** Every drain this worker ran for a message, and its result. */
const drains: DrainResult[] = []
let outbox: Outbox | undefined

self.addEventListener('install', () => void self.skipWaiting())
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()))

// #region readme
self.addEventListener('sync', (event) => {
  if (!event.tag.startsWith('outbox:')) return // syncTag(persistenceKey) is 'outbox:' + persistenceKey
  const persistenceKey = event.tag.slice('outbox:'.length)
  const drained = drainOutbox({ transport, persistenceKey }).then(({ remaining }) => {
    // A rejection asks the browser to fire `sync` again later, with its own backoff.
    if (remaining > 0) throw new Error(`${remaining} events are still pending`)
  })
  event.waitUntil(drained)
})
// #endregion

type Message =
  | { op: 'start'; persistenceKey: string }
  | { op: 'emit'; list: Array<{ event: string; payload: Record<string, unknown> }> }
  | { op: 'close' }
  | { op: 'pause' }
  | { op: 'drain'; persistenceKey: string }
  | { op: 'drains' }
  | { op: 'pending' }

async function run(message: Message): Promise<unknown> {
  switch (message.op) {
    case 'start':
      outbox = await startOutbox(message.persistenceKey, 'sw')
      return null
    case 'emit':
      return emitAll(outbox, message.list)
    case 'pause':
      outbox?.pause()
      return null
    case 'close':
      await outbox?.close()
      outbox = undefined
      return null
    case 'drain': {
      const result = await drainOutbox({
        transport: client('sw-drain'),
        persistenceKey: message.persistenceKey,
        retry,
      })
      drains.push(result)
      return result
    }
    case 'drains':
      return drains
    case 'pending':
      return outbox?.size.peek() ?? 0
  }
}

self.addEventListener('message', (event) => {
  event.waitUntil(answer(event.ports[0], run(event.data as Message)))
})
