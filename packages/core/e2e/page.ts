/**
 * The test page's script, bundled by `server.ts` with `@outbox/core` (source or dist). It exposes
 * `window.harness`, a small driver the tests call through `page.evaluate`.
 */
import {
  createOutbox,
  type DeliveryError,
  type EmitOptions,
  httpTransport,
  manualNetwork,
  type Outbox,
  type OutboxItem,
  syncTag,
} from '@outbox/core'

export type StartOptions = {
  persistenceKey: string
  /** Sent as the `x-tab` header, so the server knows which tab sent a request. */
  tab?: string
  batch?: boolean
  /** Default 'persistent'. */
  mode?: 'memory' | 'persistent'
  /** Default `{ baseMs: 50, maxMs: 500 }`. */
  retry?: { baseMs?: number; maxMs?: number; maxAttempts?: number }
  /** Default `{ cooldownMs: 1_000 }`, so an opened breaker does not stall a test for 30 s. */
  breaker?: { threshold?: number; cooldownMs?: number }
  /** How long `start` waits for `outbox.ready`; default 10 000 ms. */
  readyTimeoutMs?: number
  backgroundSync?: boolean
  /** The outbox's `NetworkMonitor` says offline (`manualNetwork(false)`). */
  offline?: boolean
  /** False: the page behaves as if the browser had no `fetchLater` (Firefox, Safari). */
  fetchLater?: boolean
}

/** Every `SyncManager.register` call, spied on like `fetchLater`. */
const syncRegistrations: string[] = []
let dedicated: Worker | undefined
const SyncManager = (globalThis as { SyncManager?: { prototype: { register(tag: string): Promise<void> } } })
  .SyncManager
if (SyncManager) {
  const register = SyncManager.prototype.register
  SyncManager.prototype.register = function (tag: string) {
    syncRegistrations.push(tag)
    return register.call(this, tag)
  }
}

/** Every `fetchLater` call the page made, spied on before the outbox can call it. */
const deferred: Array<{ body: string; signal?: AbortSignal | null }> = []
const fetchLater = (globalThis as { fetchLater?: (url: string, init: RequestInit) => unknown }).fetchLater
if (typeof fetchLater === 'function')
  (globalThis as { fetchLater?: unknown }).fetchLater = (url: string, init: RequestInit) => {
    const result = fetchLater(url, init)
    deferred.push({ body: String(init.body ?? ''), signal: init.signal })
    return result
  }

export type ItemView = {
  emitId: string
  event: string
  lane: string
  status: OutboxItem['status'] | 'failed'
  attempts: number
  payload: Record<string, unknown>
}

export type HarnessState = {
  pending: ItemView[]
  failed: ItemView[]
  size: number
  online: boolean
  ready: boolean
  closed: boolean
}

export type Emitted = { emitId: string; lane: string; event: string }

let outbox: Outbox | undefined
let ready = false
let closed = false
const errors: DeliveryError[] = []
const acked: Array<{ emitId: string; ack: Record<string, unknown> }> = []
const failures: Array<{ emitId: string; error: DeliveryError }> = []
const pageErrors: string[] = []

addEventListener('error', (e) => pageErrors.push(String(e.error ?? e.message)))
addEventListener('unhandledrejection', (e) => pageErrors.push(String(e.reason)))

const need = (): Outbox => {
  if (!outbox) throw new Error('harness.start() first')
  return outbox
}

const view = (item: OutboxItem | ({ status: 'failed' } & Omit<OutboxItem, 'status'>)): ItemView => ({
  emitId: item.emitId,
  event: item.event,
  lane: item.lane,
  status: item.status,
  attempts: item.attempts,
  payload: item.payload as Record<string, unknown>,
})

const emitted = (e: { emitId: string; lane: string; event: string }): Emitted => ({
  emitId: e.emitId,
  lane: e.lane,
  event: e.event,
})

const openDb = (persistenceKey: string): Promise<IDBDatabase> =>
  new Promise((resolve, reject) => {
    // As idb-keyval's createStore does it: version 1, one object store `items`.
    const request = indexedDB.open(`outbox:${persistenceKey}`)
    request.onupgradeneeded = () => request.result.createObjectStore('items')
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })

const inStore = async <T>(
  persistenceKey: string,
  mode: IDBTransactionMode,
  run: (store: IDBObjectStore) => IDBRequest<T>,
): Promise<T> => {
  const db = await openDb(persistenceKey)
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction('items', mode)
      const request = run(tx.objectStore('items'))
      tx.oncomplete = () => resolve(request.result)
      tx.onerror = () => reject(tx.error)
      tx.onabort = () => reject(tx.error)
    })
  } finally {
    db.close()
  }
}

const harness = {
  async start(options: StartOptions): Promise<void> {
    if (outbox) throw new Error('harness.start() was already called on this page')
    const tab = options.tab ?? 'tab'
    if (options.fetchLater === false) (globalThis as { fetchLater?: unknown }).fetchLater = undefined
    outbox = createOutbox({
      transport: httpTransport({ url: '/events', batch: options.batch ?? false, headers: { 'x-tab': tab } }),
      mode: options.mode ?? 'persistent',
      persistenceKey: options.persistenceKey,
      retry: { baseMs: 50, maxMs: 500, ...options.retry },
      breaker: { cooldownMs: 1_000, ...options.breaker },
      backgroundSync: options.backgroundSync ?? false,
      ...(options.offline ? { network: manualNetwork(false) } : {}),
    })
    outbox.on('outbox:error', ({ error }) => errors.push(error))
    outbox.on('outbox:acked', ({ envelope, ack }) => acked.push({ emitId: envelope.emitId, ack }))
    outbox.on('outbox:failed', ({ envelope, error }) => failures.push({ emitId: envelope.emitId, error }))
    const timeoutMs = options.readyTimeoutMs ?? 10_000
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      outbox.ready,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`outbox.ready did not resolve within ${timeoutMs} ms`)), timeoutMs)
      }),
    ]).finally(() => clearTimeout(timer))
    ready = true
  },
  emit(event: string, payload: Record<string, unknown>, options?: EmitOptions): Emitted {
    return emitted(need().emit(event, payload, options))
  },
  /** Emits in one synchronous burst, or with `gapMs` (0: a macrotask) between emits. */
  async emitMany(list: Array<{ event: string; payload: Record<string, unknown> }>, gapMs?: number): Promise<Emitted[]> {
    const out: Emitted[] = []
    for (const { event, payload } of list) {
      out.push(emitted(need().emit(event, payload)))
      if (gapMs !== undefined) await new Promise((r) => setTimeout(r, gapMs))
    }
    return out
  },
  state(): HarnessState {
    const o = need()
    return {
      pending: o.pending.peek().map(view),
      failed: o.failed.peek().map(view),
      size: o.size.peek(),
      online: o.online.peek(),
      ready,
      closed,
    }
  },
  /** Every `outbox:error` so far. */
  errors: (): DeliveryError[] => errors.slice(),
  /** Every `outbox:acked` so far, in order. */
  acked: () => acked.slice(),
  /** Every `outbox:failed` so far. */
  failures: () => failures.slice(),
  /** Uncaught errors and unhandled rejections on the page. */
  pageErrors: () => pageErrors.slice(),
  async delivered(emitId: string): Promise<{ ack: Record<string, unknown> } | { error: string }> {
    try {
      return { ack: await need().delivered(emitId) }
    } catch (error) {
      return { error: String(error) }
    }
  },
  flush: () => need().flush(),
  /** The emitIds in deferred requests (`fetchLater`) armed now, that is not aborted. */
  armed: (): string[] =>
    deferred
      .filter((d) => !d.signal?.aborted)
      .flatMap((d) => (JSON.parse(d.body) as { envelopes: Array<{ emitId: string }> }).envelopes.map((e) => e.emitId)),
  hasFetchLater: () => typeof fetchLater === 'function',
  /** Registers the test service worker (`/sw.js`) and waits until it is active. */
  async registerWorker(): Promise<void> {
    await navigator.serviceWorker.register('/sw.js')
    await navigator.serviceWorker.ready
  },
  /** Every Background Sync tag this page registered (the browser may have fired and forgotten it since). */
  syncRegistrations: () => syncRegistrations.slice(),
  syncTag,
  /** Sends `message` to the service worker and resolves with its answer. */
  async worker(message: unknown): Promise<unknown> {
    const registration = await navigator.serviceWorker.ready
    const channel = new MessageChannel()
    const answer = new Promise((resolve) => (channel.port1.onmessage = (e) => resolve(e.data)))
    registration.active?.postMessage(message, [channel.port2])
    const data = (await answer) as { ok: boolean; value?: unknown; error?: string }
    if (!data.ok) throw new Error(`the service worker failed: ${data.error}`)
    return data.value
  },
  /** A dedicated worker (`/worker.js`, see `worker.ts`): started, sent messages, terminated. */
  dedicatedWorker: {
    start(): void {
      dedicated?.terminate()
      dedicated = new Worker('/worker.js', { type: 'module' })
    },
    async call(message: unknown): Promise<unknown> {
      if (!dedicated) throw new Error('no dedicated worker: call dedicatedWorker.start() first')
      const channel = new MessageChannel()
      const answer = new Promise((resolve) => (channel.port1.onmessage = (e) => resolve(e.data)))
      dedicated.postMessage(message, [channel.port2])
      const data = (await answer) as { ok: boolean; value?: unknown; error?: string }
      if (!data.ok) throw new Error(`the dedicated worker failed: ${data.error}`)
      return data.value
    },
    terminate(): void {
      dedicated?.terminate()
      dedicated = undefined
    },
  },
  pause: () => need().pause(),
  resume: () => need().resume(),
  async close(options?: { flush?: boolean }): Promise<void> {
    await need().close(options)
    closed = true
  },
  /** Raw IndexedDB access to the outbox's store (`outbox:<key>`, object store `items`). */
  idb: {
    keys: (persistenceKey: string): Promise<string[]> =>
      inStore(persistenceKey, 'readonly', (s) => s.getAllKeys()).then((keys) => keys.map(String)),
    get: (persistenceKey: string, key: string): Promise<unknown> =>
      inStore(persistenceKey, 'readonly', (s) => s.get(key)),
    put: (persistenceKey: string, key: string, value: unknown): Promise<unknown> =>
      inStore(persistenceKey, 'readwrite', (s) => s.put(value, key)),
  },
}

export type Harness = typeof harness

declare global {
  interface Window {
    harness: Harness
  }
}

window.harness = harness
