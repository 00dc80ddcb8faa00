import type { ChatClient } from './chat-client.ts'
import type { KeyValueStorage } from './sent-log.ts'
import { type Readable, writable } from './store.ts'

/** Where the dev server serves `src/sw.ts`; at the root, so its scope covers both pages. */
export const WORKER_URL = '/playground-sw.js'
const KEY = 'playground:service-worker'

/** Whether the "service worker" switch is on (kept in `localStorage`, for every user and both pages). */
export const workerSwitchOn = (storage: KeyValueStorage | undefined = globalThis.localStorage): boolean =>
  storage?.getItem(KEY) === '1'

/**
 * The "service worker" switch: on, the playground's service worker is registered and the outbox
 * runs with `backgroundSync: true`, so what a closed tab left undelivered goes out on `sync`; off,
 * the worker is unregistered and the outbox goes back to delivering only while a page is open.
 */
export function createWorkerSwitch(client: ChatClient, storage: KeyValueStorage = localStorage) {
  const on = writable(workerSwitchOn(storage))
  const error = writable<string | undefined>(undefined)
  const container = globalThis.navigator?.serviceWorker

  const apply = async (value: boolean) => {
    if (!container) return error.set('This browser has no service workers (http://127.0.0.1 or https only).')
    try {
      if (value) await container.register(WORKER_URL, { type: 'module', scope: '/' })
      else await (await container.getRegistration(WORKER_URL))?.unregister()
      error.set(undefined)
    } catch (e) {
      error.set(e instanceof Error ? e.message : String(e))
    }
  }
  // On at load: register again, so a changed worker script is picked up.
  if (on.get()) void apply(true)

  return {
    on: on as Readable<boolean>,
    /** Why registering failed, if it did. */
    error: error as Readable<string | undefined>,
    /** Whether Background Sync exists here at all (Chromium). */
    supported: typeof (globalThis as { SyncManager?: unknown }).SyncManager === 'function',
    async set(value: boolean): Promise<void> {
      on.set(value)
      if (value) storage.setItem(KEY, '1')
      else storage.removeItem(KEY)
      await apply(value)
      await client.reconfigure({ backgroundSync: value })
    },
  }
}

export type WorkerSwitch = ReturnType<typeof createWorkerSwitch>
