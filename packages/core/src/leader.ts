/** Which of the outboxes sharing one `persistenceKey` sends. */
export type Leadership = {
  readonly leading: boolean
  close(): void
}

type Timers = { now(): number; setTimeout(fn: () => void, ms: number): unknown; clearTimeout(h: unknown): void }

/** Heartbeat period of the BroadcastChannel fallback; a leader silent for 3 periods is replaced. */
export const HEARTBEAT_MS = 1000

/**
 * Elects one leader among the outboxes of an origin that share `name`: through Web Locks where
 * the browser has them (the lock passes to the next tab the moment the leader's tab closes), else
 * through heartbeats on a BroadcastChannel, else (no way to reach other tabs) this one leads.
 */
export function electLeader(name: string, onChange: (leading: boolean) => void, timers: Timers): Leadership {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined
  if (locks && typeof locks.request === 'function') return viaLocks(locks, name, onChange)
  if (typeof BroadcastChannel === 'function') return viaHeartbeats(name, onChange, timers)
  queueMicrotask(() => onChange(true))
  return { leading: true, close() {} }
}

function viaLocks(locks: LockManager, name: string, onChange: (leading: boolean) => void): Leadership {
  let leading = false
  let release = () => {}
  const held = new Promise<void>((resolve) => (release = resolve))
  const controller = new AbortController()
  locks
    .request(`outbox:${name}`, { signal: controller.signal }, async () => {
      leading = true
      onChange(true)
      await held
    })
    .catch(() => {}) // aborted before it was granted: this outbox closed as a follower
  return {
    get leading() {
      return leading
    },
    close() {
      controller.abort()
      release()
      leading = false
    },
  }
}

function viaHeartbeats(name: string, onChange: (leading: boolean) => void, timers: Timers): Leadership {
  const channel = new BroadcastChannel(`outbox-leader:${name}`)
  // Ids order the candidates: when two lead at once, the smaller id keeps the lead.
  const id = `${timers.now().toString(36).padStart(10, '0')}:${Math.random().toString(36).slice(2)}`
  let leading = false
  let leaderSeenAt = timers.now() - HEARTBEAT_MS
  let timer: unknown
  let closed = false

  const set = (value: boolean) => {
    if (value === leading) return
    leading = value
    onChange(value)
  }
  const beat = () => channel.postMessage({ t: 'hb', id })
  const check = () => {
    if (closed) return
    if (leading) beat()
    else if (timers.now() - leaderSeenAt > 2 * HEARTBEAT_MS) {
      set(true)
      beat()
    }
    timer = timers.setTimeout(check, HEARTBEAT_MS)
  }
  channel.onmessage = ({ data }) => {
    if (closed || data?.id === id) return
    if (data?.t === 'hb') {
      if (leading && data.id > id) return beat() // we keep the lead; tell the newcomer at once
      set(false)
      leaderSeenAt = timers.now()
    } else if (data?.t === 'hello' && leading) beat()
    else if (data?.t === 'bye') {
      leaderSeenAt = Number.NEGATIVE_INFINITY
      timers.clearTimeout(timer)
      check()
    }
  }
  channel.postMessage({ t: 'hello', id })
  timer = timers.setTimeout(check, 2 * HEARTBEAT_MS)
  return {
    get leading() {
      return leading
    },
    close() {
      closed = true
      timers.clearTimeout(timer)
      if (leading) channel.postMessage({ t: 'bye', id })
      leading = false
      channel.close()
    },
  }
}
