import { OutboxError } from './errors.ts'
import { browserHost, type Host } from './host.ts'
import { createOutbox } from './outbox.ts'
import type { SenderLock } from './sender-lock.ts'
import type { OutboxOptions } from './types.ts'

/** What one `drainOutbox` pass did. */
export type DrainResult = {
  /** Items the server acknowledged (answers from its idempotency store included). */
  delivered: number
  /** Items that failed terminally (they stay in the failed list, stored). */
  failed: number
  /** Items still pending: their lane's head failed and waits for a retry, or the breaker opened. */
  remaining: number
}

/** Resolves once this worker holds the sender lock of `key`: while a page holds it, that page sends. */
function holdSenderLock(host: Host, key: string): Promise<SenderLock> {
  return new Promise((resolve) => {
    let lock: SenderLock | undefined
    let leading = false
    const grant = () => lock && leading && resolve(lock)
    lock = host.senderLock(key, (value) => {
      leading ||= value
      grant()
    })
    leading ||= lock.leading
    grant()
  })
}

/**
 * One delivery pass for a worker's `sync`, `periodicsync`, `push` or alarm handler: opens the
 * persistent outbox of `persistenceKey`, waits for the sender lock (a page that holds it is
 * delivering the same items), sends each lane until it is empty or its head fails (backoff is not
 * waited out: the browser calls again), closes, and resolves with the counts. Ask the browser to
 * try again when `remaining > 0`, e.g. by rejecting the promise given to `event.waitUntil`.
 */
export async function drainOutbox(options: OutboxOptions & { persistenceKey: string }): Promise<DrainResult> {
  const key = options?.persistenceKey
  if (typeof key !== 'string' || key === '')
    throw new OutboxError(
      'drainOutbox needs the persistenceKey of the outbox to drain, e.g. { persistenceKey: "chat" }.',
    )
  const base = options.host ?? browserHost(options)
  // The lock comes first, so start-up reads storage as the last sender left it.
  const lock = await holdSenderLock(base, key)
  const host: Host = {
    clock: base.clock,
    network: base.network,
    lifecycle: () => () => {},
    channel: (name) => base.channel(name),
    senderLock(_name, onChange) {
      queueMicrotask(() => onChange(true))
      return { leading: true, others: () => lock.others(), close() {} }
    },
  }
  let delivered = 0
  let failed = 0
  let remaining = 0
  try {
    const outbox = createOutbox({ ...options, mode: 'persistent', backgroundSync: false, host })
    outbox.on('outbox:acked', () => delivered++)
    outbox.on('outbox:failed', () => failed++)
    try {
      await outbox.ready
      await outbox.flush()
      remaining = outbox.size.peek()
    } finally {
      await outbox.close()
    }
  } finally {
    lock.close()
  }
  return { delivered, failed, remaining }
}
