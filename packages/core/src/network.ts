import type { NetworkMonitor } from './types.ts'

/** A monitor for environments without `window` (Node, workers without events): always online. */
export const alwaysOnline: NetworkMonitor = { online: true, subscribe: () => () => {} }

/**
 * A monitor over events: `read()` says whether it is online now, `attach(notify)` starts listening
 * and returns the detach. It listens only while someone is subscribed (from the first subscription
 * to the end of the last), so an unused or closed outbox leaves nothing behind.
 */
export function eventNetwork(read: () => boolean, attach: (notify: () => void) => () => void): NetworkMonitor {
  const listeners = new Set<(online: boolean) => void>()
  let detach: (() => void) | undefined
  const notify = () => {
    const online = read()
    for (const listener of listeners) listener(online)
  }
  return {
    get online() {
      return read()
    },
    subscribe(listener) {
      if (listeners.size === 0) detach = attach(notify)
      listeners.add(listener)
      return () => {
        if (!listeners.delete(listener) || listeners.size > 0) return
        detach?.()
        detach = undefined
      }
    },
  }
}

/** The browser's `online`/`offline` events. */
export function browserNetwork(target: Window = window): NetworkMonitor {
  return eventNetwork(
    () => target.navigator.onLine !== false,
    (notify) => {
      target.addEventListener('online', notify)
      target.addEventListener('offline', notify)
      return () => {
        target.removeEventListener('online', notify)
        target.removeEventListener('offline', notify)
      }
    },
  )
}

/**
 * A monitor the app switches by hand with `set(online)`: for connectivity learned elsewhere (a
 * native bridge, a socket's state, a health check), and for tests.
 */
export function manualNetwork(
  initial = true,
): NetworkMonitor & { set(online: boolean): void; listenerCount(): number } {
  let online = initial
  const listeners = new Set<(online: boolean) => void>()
  return {
    get online() {
      return online
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    set(value) {
      if (value === online) return
      online = value
      for (const listener of listeners) listener(value)
    },
    listenerCount: () => listeners.size,
  }
}

/** The default monitor: browser events where a window exists, always online elsewhere. */
export const defaultNetwork = (): NetworkMonitor =>
  typeof window !== 'undefined' && typeof window.addEventListener === 'function' ? browserNetwork(window) : alwaysOnline
