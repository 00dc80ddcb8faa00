/** Which of the outboxes sharing one `persistenceKey` sends. */
export interface SenderLock {
  readonly leading: boolean
  /**
   * Whether another outbox on this name may be open (in any tab or worker of the origin). Only
   * Web Locks can say no: the lock's holder and waiters are every such outbox, and a tab's lock
   * requests go with it when it closes or crashes. Without them the answer is always yes.
   */
  others(): Promise<boolean>
  close(): void
}

const yes = async () => true

type Timers = { now(): number; setTimeout(fn: () => void, ms: number): unknown; clearTimeout(h: unknown): void }

/** Heartbeat period of the BroadcastChannel fallback; a leader silent for 3 periods is replaced. */
const HEARTBEAT_MS = 1000

/**
 * Elects one leader among the outboxes of an origin that share `name`: through Web Locks where
 * the browser has them (the lock passes to the next tab the moment the leader's tab closes), else
 * through heartbeats on a BroadcastChannel, else (no way to reach other tabs) this one leads.
 */
export function electSender(name: string, onChange: (leading: boolean) => void, timers: Timers): SenderLock {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined
  if (locks && typeof locks.request === 'function') return viaLocks(locks, name, onChange)
  if (typeof BroadcastChannel === 'function') return viaHeartbeats(name, onChange, timers)
  queueMicrotask(() => onChange(true))
  return { leading: true, others: yes, close() {} }
}

function viaLocks(locks: LockManager, name: string, onChange: (leading: boolean) => void): SenderLock {
  let leading = false
  let release = () => {}
  const held = new Promise<void>((resolve) => (release = resolve))
  const controller = new AbortController()
  const lock = `outbox:${name}`
  locks
    .request(lock, { signal: controller.signal }, async () => {
      leading = true
      onChange(true)
      await held
    })
    .catch(() => {}) // aborted before it was granted: this outbox closed as a follower
  return {
    get leading() {
      return leading
    },
    async others() {
      if (typeof locks.query !== 'function') return true
      const { held = [], pending = [] } = await locks.query()
      // One of them is this outbox's own: it holds the lock while it leads, and waits for it otherwise.
      return [...held, ...pending].filter((l) => l.name === lock).length > 1
    },
    close() {
      controller.abort()
      release()
      leading = false
    },
  }
}

function viaHeartbeats(name: string, onChange: (leading: boolean) => void, timers: Timers): SenderLock {
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
      leaderSeenAt = -Infinity
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
    others: yes,
    close() {
      closed = true
      timers.clearTimeout(timer)
      if (leading) channel.postMessage({ t: 'bye', id })
      leading = false
      channel.close()
    },
  }
}
