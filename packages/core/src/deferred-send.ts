import { effect, type ReadonlySignal } from '@preact/signals-core'
import { envelopeOf } from './envelope.ts'
import type { Host } from './host.ts'
import type { Queue } from './queue.ts'
import type { Clock, EmitEnvelope, Transport } from './types.ts'

/** Changes within this long re-arm the deferred request once. */
export const REARM_MS = 200

/**
 * Most items offered to the transport for one deferred request: the browser's quota per origin is
 * 64 KiB of bodies, which even small items fill long before this.
 */
const MAX_DEFERRED_ITEMS = 256

export interface DeferredSend {
  /** True once the browser took a deferred request: the page-hide keepalive is not needed. */
  covers(): boolean
  /** There may be something new to arm (start-up read more, the page is back). */
  changed(): void
  /** The page may be going away: a re-arm still waiting happens now. */
  hidden(): void
  /** Aborts what is armed and stops (close, clear). */
  abort(): void
  close(): void
}

const isQuotaError = (error: unknown) => (error as { name?: unknown } | null)?.name === 'QuotaExceededError'

/**
 * The last-chance send for a page that may be closed, crashed or discarded without warning: a
 * deferred request (`fetchLater`) stays armed with the page's undelivered durable items, and is
 * re-armed (the old one aborted) when they change. Armed whatever `online` says, since it goes out
 * only when the page is gone; not while paused. Items stay stored until acked: the next session
 * resends them and the server answers from its idempotency store.
 */
export function keepDeferredArmed(ctx: {
  queue: Queue
  clock: Clock
  /** The host's `deferSend`; undefined where there is none (or not a persistent outbox). */
  defer: Host['deferSend']
  transport: Transport
  paused: ReadonlySignal<boolean>
  /** While start-up reads: nothing after this emitId may go (an earlier item of its lane may be unread). */
  watermark: () => string | undefined
  started: () => boolean
}): DeferredSend {
  const { queue, clock, defer, transport, paused } = ctx
  const build = transport.deferredRequests?.bind(transport)
  let controller: AbortController | undefined
  let timer: unknown
  let capable = false
  let closed = false
  if (!build || !defer) {
    const none = () => {}
    return { covers: () => false, changed: none, hidden: none, abort: none, close: none }
  }

  /** The oldest undelivered durable items (the queue is in emitId order), up to the watermark. */
  const undelivered = (): EmitEnvelope[] => {
    const watermark = ctx.watermark()
    const out: EmitEnvelope[] = []
    for (const [id, { item, policy }] of queue.entries()) {
      if (out.length >= MAX_DEFERRED_ITEMS || (watermark !== undefined && id > watermark)) break
      if (policy.durable) out.push(envelopeOf(item))
    }
    return out
  }

  const arm = () => {
    clearTimer()
    controller?.abort()
    controller = undefined
    if (closed || paused.peek() || !ctx.started()) return
    // Over the quota, fewer items: a prefix in emitId order keeps each lane's items a prefix too.
    for (let list = undelivered(); list.length > 0; list = list.slice(0, list.length >> 1)) {
      const attempt = new AbortController()
      let armed = 0
      try {
        for (const request of build(list)) {
          if (!defer(request, attempt.signal)) return // no fetchLater here
          capable = true
          armed++
        }
        controller = attempt
        return
      } catch (error) {
        // What fits is kept, oldest first; nothing fit: try with half as many items.
        if (armed > 0 && isQuotaError(error)) return void (controller = attempt)
        attempt.abort()
        if (!isQuotaError(error)) return
      }
    }
  }

  function clearTimer() {
    if (timer !== undefined) clock.clearTimeout(timer)
    timer = undefined
  }
  const changed = () => {
    if (closed || timer !== undefined) return
    timer = clock.setTimeout(arm, REARM_MS)
  }

  const stop = effect(() => {
    queue.version.value
    paused.value
    changed()
  })

  return {
    covers: () => capable,
    changed,
    hidden() {
      if (timer !== undefined) arm()
    },
    abort() {
      clearTimer()
      controller?.abort()
      controller = undefined
    },
    close() {
      closed = true
      stop()
      this.abort()
    },
  }
}
