import { defaultNetwork } from './network.ts'
import { onPageHide } from './page-hide.ts'
import { electSender, type SenderLock } from './sender-lock.ts'
import type { Clock, DeferredRequest, NetworkMonitor, OutboxOptions } from './types.ts'

/** A channel to the other outboxes of the origin on one name (a `BroadcastChannel`'s shape). */
export interface HostChannel {
  postMessage(message: unknown): void
  onmessage: ((event: MessageEvent) => void) | null
  close(): void
}

/** What the surroundings say about the page's life: it is going away, or it is back from the bfcache. */
export type LifecycleHooks = { hide(): void; restore(): void }

/**
 * Everything the engine asks of its surroundings, in one seam: time and timers, the online hint,
 * the page's lifecycle (the moment for a last-chance send), the channel to other outboxes on the
 * same key and the lock that makes one of them the sender. A page, a dedicated worker, a service
 * worker and an extension's worker differ only here; the engine never reaches for `window`,
 * `document`, `navigator` or `BroadcastChannel` itself.
 */
export interface Host {
  readonly clock: Clock
  readonly network: NetworkMonitor
  /** Calls `hide` when the page may be going away, `restore` when it is back; a no-op without a page. Returns the detach. */
  lifecycle(hooks: LifecycleHooks): () => void
  /** A channel to the other outboxes of this origin on `name`, or undefined where there is none. */
  channel(name: string): HostChannel | undefined
  /** Takes part in electing the one sender among the outboxes of the origin on `name`. */
  senderLock(name: string, onChange: (leading: boolean) => void): SenderLock
  /**
   * Arms `request` to go out when the page goes away (closed, crashed, discarded), until `signal`
   * aborts it: `fetchLater`, without `activateAfter`. False where there is no such thing; throws
   * the browser's `QuotaExceededError` when the request does not fit. Absent: none.
   */
  deferSend?(request: DeferredRequest, signal: AbortSignal): boolean
  /** Registers a Background Sync tag on the active service worker registration; false where there is none. */
  registerSync?(tag: string): Promise<boolean>
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
}

/**
 * The host of a browser page, and of any worker: each capability is used where the global that
 * provides it exists (page lifecycle events need a `document`, the online hint a `window`, the
 * sender lock Web Locks or a BroadcastChannel), and is a no-op elsewhere. `options.clock` and
 * `options.network` replace the timers and the online hint.
 */
export function browserHost(options: Pick<OutboxOptions, 'clock' | 'network'> = {}): Host {
  const clock = options.clock ?? realClock
  return {
    clock,
    network: options.network ?? defaultNetwork(),
    lifecycle: (hooks) => onPageHide(hooks.hide, hooks.restore),
    channel: (name) => (typeof BroadcastChannel === 'function' ? new BroadcastChannel(name) : undefined),
    senderLock: (name, onChange) => electSender(name, onChange, clock),
    deferSend(request, signal) {
      const fetchLater = (globalThis as { fetchLater?: FetchLater }).fetchLater
      if (typeof fetchLater !== 'function') return false
      const { url, method, headers, body } = request
      fetchLater(url, body === undefined ? { method, headers, signal } : { method, headers, body, signal })
      return true
    },
    async registerSync(tag) {
      const container = globalThis.navigator?.serviceWorker
      if (typeof container?.getRegistration !== 'function' || typeof SyncManagerClass() !== 'function') return false
      const registration = (await container.getRegistration()) as SyncRegistration | undefined
      if (!registration?.active || typeof registration.sync?.register !== 'function') return false
      await registration.sync.register(tag)
      return true
    },
  }
}

/** Chromium's `fetchLater(input, { method, headers, body, signal, activateAfter })` → `{ activated }`. */
type FetchLater = (url: string, init: RequestInit) => { readonly activated: boolean }
type SyncRegistration = ServiceWorkerRegistration & { sync?: { register(tag: string): Promise<void> } }
const SyncManagerClass = () => (globalThis as { SyncManager?: unknown }).SyncManager
