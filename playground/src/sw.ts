/**
 * The playground's service worker, served by the dev server as `/playground-sw.js` (a module
 * worker, transformed by Vite like the pages). Its `sync` handler delivers what a page of the
 * playground left undelivered, tab open or not: the page registers `syncTag('playground:<user>')`
 * when the "service worker" switch is on (`backgroundSync: true`).
 */
import { drainOutbox, httpTransport, syncTag } from '@outbox/core'
import { defaultOutboxSettings } from './chat-client.ts'
import { SENDER_HEADER } from './protocol.ts'
import { createSession } from './session.ts'

// The few service worker types used here: the project's DOM lib does not have them.
type ExtendableEvent = Event & { waitUntil(work: Promise<unknown>): void }
type SyncEvent = ExtendableEvent & { readonly tag: string }
type WorkerScope = {
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void
  addEventListener(type: 'sync', listener: (event: SyncEvent) => void): void
  skipWaiting(): Promise<void>
  clients: { claim(): Promise<void> }
}
const worker = globalThis as unknown as WorkerScope

const PREFIX = syncTag('playground:')

/** One delivery pass for a user's outbox; rejects while events remain, so the browser fires `sync` again. */
async function drain(user: string): Promise<void> {
  // The page's sign-in, without its visible delay: nobody watches a worker sign in.
  const session = createSession(user, { signInDelayMs: 0 })
  const transport = httpTransport({
    url: `/api/events?user=${encodeURIComponent(user)}`,
    // Marked, so the server lists what it applied from here as delivered after the tab closed.
    headers: async () => ({ ...(await session.headers()), [SENDER_HEADER]: 'worker' }),
  })
  const { remaining } = await drainOutbox({
    ...defaultOutboxSettings(user),
    persistenceKey: `playground:${user}`, // the settings' key, typed as required here
    transport,
    onUnauthorized: () => session.refresh(),
  })
  if (remaining > 0) throw new Error(`${remaining} events are still pending`)
}

worker.addEventListener('install', () => void worker.skipWaiting())
worker.addEventListener('activate', (event) => event.waitUntil(worker.clients.claim()))

worker.addEventListener('sync', (event) => {
  if (!event.tag.startsWith(PREFIX)) return
  event.waitUntil(drain(event.tag.slice(PREFIX.length)))
})
