import { alwaysOnline, browserNetwork, type NetworkMonitor } from '@outbox/core'

/** A NetworkMonitor with a switch: offline when the switch is off or the browser is offline. */
export type SwitchableNetwork = NetworkMonitor & {
  /** The fault panel's "offline" switch (a page cannot take itself off the network). */
  setSwitch(online: boolean): void
}

export function switchableNetwork(
  initial: boolean,
  base: NetworkMonitor = typeof window === 'undefined' ? alwaysOnline : browserNetwork(),
): SwitchableNetwork {
  let on = initial
  let last = on && base.online
  const listeners = new Set<(online: boolean) => void>()
  let stopBase: (() => void) | undefined
  const check = () => {
    const now = on && base.online
    if (now === last) return
    last = now
    for (const listener of [...listeners]) listener(now)
  }
  return {
    get online() {
      return on && base.online
    },
    setSwitch(online) {
      on = online
      check()
    },
    subscribe(listener) {
      if (listeners.size === 0) stopBase = base.subscribe(check)
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
        if (listeners.size === 0) stopBase?.()
      }
    },
  }
}
