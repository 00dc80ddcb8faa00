import type { ReadonlySignal } from '@preact/signals-core'
import { syncTag, watchBackgroundSync } from './background-sync.ts'
import { keepDeferredArmed } from './deferred-send.ts'
import type { Host } from './host.ts'
import { sendLastChance } from './last-chance.ts'
import type { Persistence } from './persistence.ts'
import type { Queue } from './queue.ts'
import type { OutboxOptions } from './types.ts'

export interface PageLife {
  /** The queue or the sender changed: re-arm the deferred request. */
  changed(): void
  /** Aborts the deferred request (`clear()`). */
  abort(): void
  close(): void
}

/**
 * What the outbox does about the page's life, through the host's lifecycle: a deferred request
 * (`fetchLater`) kept armed for undelivered durable items, Background Sync registered while they
 * wait, keepalive requests as the page hides where no deferred request covers them (when the
 * outbox may send), and a fresh look at storage when the page comes back from the back/forward cache. A
 * no-op without a page.
 */
export function watchPageLife(ctx: {
  options: OutboxOptions
  host: Host
  queue: Queue
  persistence: Persistence
  online: ReadonlySignal<boolean>
  paused: ReadonlySignal<boolean>
  /** Whether the outbox may send now (not closed, paused, offline, signed out or following). */
  canSend: () => boolean
}): PageLife {
  const { options, host, queue, persistence, online } = ctx
  const persistent = options.mode === 'persistent'
  const deferred = keepDeferredArmed({
    queue,
    clock: host.clock,
    defer: persistent ? host.deferSend?.bind(host) : undefined,
    transport: options.transport,
    paused: ctx.paused,
    watermark: () => persistence.watermark(),
    started: () => persistence.started(),
  })
  const backgroundSync = watchBackgroundSync({
    queue,
    clock: host.clock,
    register: persistent && options.backgroundSync ? host.registerSync?.bind(host) : undefined,
    online,
    tag: syncTag(options.persistenceKey ?? 'outbox'),
  })
  const stopLifecycle = host.lifecycle({
    hide() {
      persistence.hidden()
      deferred.hidden()
      backgroundSync.hidden()
      // Where a deferred request is armed, it is the last-chance send; keepalive is the fallback, under
      // the scheduler's own rule (so not while paused or signed out), with every stored item loaded.
      if (ctx.canSend() && persistence.watermark() === undefined && !deferred.covers())
        sendLastChance(queue, options.transport)
    },
    restore() {
      persistence.restored()
      deferred.changed() // entering the back/forward cache sent the deferred request
    },
  })
  return {
    changed: () => deferred.changed(),
    abort: () => deferred.abort(),
    close() {
      deferred.close()
      backgroundSync.close()
      stopLifecycle()
    },
  }
}
