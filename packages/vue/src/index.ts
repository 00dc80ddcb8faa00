import {
  type BreakerState,
  type DeliveryStatus,
  type FailedItem,
  type Outbox,
  OutboxError,
  type OutboxItem,
} from '@outbox/core'
import {
  computed,
  getCurrentScope,
  hasInjectionContext,
  type InjectionKey,
  inject,
  type MaybeRefOrGetter,
  onScopeDispose,
  type Plugin,
  type Ref,
  shallowRef,
  toValue,
} from 'vue'

// The whole core, so an app installs one package; `export *` follows the core's own explicit list.
export * from '@outbox/core'

/** The key the plugin provides the outbox under; `provide(outboxKey, outbox)` scopes another one to a subtree. */
export const outboxKey: InjectionKey<Outbox> = Symbol('@outbox/vue')

/** `app.use(outboxPlugin(outbox))` makes `outbox` what `useOutbox()` and the other composables use by default. */
export function outboxPlugin(outbox: Outbox): Plugin {
  return { install: (app) => void app.provide(outboxKey, outbox) }
}

/** A composable was called without an outbox, and none was provided. */
export class OutboxNotProvidedError extends OutboxError {
  override name = 'OutboxNotProvidedError' as const
  constructor(caller: string) {
    super(
      `${caller}() found no outbox. Install the plugin with app.use(outboxPlugin(outbox)), ` +
        `provide one with provide(outboxKey, outbox), or pass it: ${caller}(..., outbox).`,
    )
  }
}

export type UseOutboxReturn = {
  /** Pending items in emit order. */
  readonly pending: Readonly<Ref<readonly OutboxItem[]>>
  /** Items that failed terminally; each has `error.hint` for the UI. */
  readonly failed: Readonly<Ref<readonly FailedItem[]>>
  readonly size: Readonly<Ref<number>>
  readonly online: Readonly<Ref<boolean>>
  readonly breaker: Readonly<Ref<BreakerState>>
  readonly emit: Outbox['emit']
  readonly flush: Outbox['flush']
  readonly retry: Outbox['retry']
  readonly discard: Outbox['discard']
}

// A global `process` exists under Node and is replaced by bundlers (Vite, webpack); in plain browser
// ESM reading it throws, and Vite-style `import.meta.env.DEV` is the fallback.
declare const process: { env: { NODE_ENV?: string } }
function isDev(): boolean {
  try {
    return process.env.NODE_ENV !== 'production'
  } catch {
    return (import.meta as { env?: { DEV?: boolean } }).env?.DEV === true
  }
}

function resolveOutbox(outbox: Outbox | undefined, caller: string): Outbox {
  const found = outbox ?? (hasInjectionContext() ? inject(outboxKey, undefined) : undefined)
  if (!found) throw new OutboxNotProvidedError(caller)
  return found
}

/**
 * A counter bumped once per batch of outbox changes (the core's `subscribe`), released with the
 * calling effect scope. Views read the core's signals when it moves, so every ref of every
 * composable changes in the same batch and never shows a half-applied update.
 */
function changes(outbox: Outbox, caller: string): Ref<number> {
  const version = shallowRef(0)
  let n = 0
  const stop = outbox.subscribe(() => {
    version.value = ++n
  })
  if (getCurrentScope()) onScopeDispose(stop)
  else if (isDev())
    console.warn(
      `[@outbox/vue] ${caller}() was called outside a component setup() or effectScope(), so its ` +
        'subscription is never released. Call it in setup(), or inside effectScope().run() and stop the scope.',
    )
  return version
}

/** A read-only ref of `read()`, recomputed only when the outbox has changed. */
function view<T>(version: Ref<number>, read: () => T): Readonly<Ref<T>> {
  return computed(() => {
    version.value
    return read()
  })
}

/**
 * The outbox's state as read-only refs, plus its methods. Without an argument it uses the outbox
 * provided by `outboxPlugin`; the subscription ends with the calling component or effect scope.
 */
export function useOutbox(outbox?: Outbox): UseOutboxReturn {
  const box = resolveOutbox(outbox, 'useOutbox')
  const version = changes(box, 'useOutbox')
  return {
    pending: view(version, () => box.pending.peek()),
    failed: view(version, () => box.failed.peek()),
    size: view(version, () => box.size.peek()),
    online: view(version, () => box.online.peek()),
    breaker: view(version, () => box.breaker.peek()),
    emit: (event, payload, options) => box.emit(event, payload, options),
    flush: () => box.flush(),
    retry: (emitId) => box.retry(emitId),
    discard: (emitId) => box.discard(emitId),
  }
}

/**
 * One item's delivery status (`'queued' | 'sending' | 'waiting' | 'failed' | 'delivered' | 'unknown'`)
 * as a read-only ref, for a per-message tick. `emitId` may be a ref or getter, e.g. `() => props.emitId`.
 */
export function useDeliveryStatus(emitId: MaybeRefOrGetter<string>, outbox?: Outbox): Readonly<Ref<DeliveryStatus>> {
  const box = resolveOutbox(outbox, 'useDeliveryStatus')
  const version = changes(box, 'useDeliveryStatus')
  const status = computed(() => box.status(toValue(emitId)))
  return view(version, () => status.value.peek())
}

/** The pending items of one lane (one chat), in emit order, as a read-only ref. `lane` may be a ref or getter. */
export function useLane(lane: MaybeRefOrGetter<string>, outbox?: Outbox): Readonly<Ref<readonly OutboxItem[]>> {
  const box = resolveOutbox(outbox, 'useLane')
  const version = changes(box, 'useLane')
  const items = computed(() => box.lane(toValue(lane)))
  return view(version, () => items.value.peek())
}
