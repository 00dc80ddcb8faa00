import type { Outbox } from '@outbox/core'
import type { Ref } from 'vue'
import { computed, getCurrentScope, hasInjectionContext, inject, onScopeDispose, shallowRef, ssrContextKey } from 'vue'

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

/**
 * A counter bumped once per batch of outbox changes (the core's `subscribe`), released with the
 * calling effect scope. Views read the core's signals when it moves, so every ref of every
 * composable changes in the same batch and never shows a half-applied update.
 */
export function outboxVersion(outbox: Outbox, caller: string): Ref<number> {
  const version = shallowRef(0)
  // Server rendering never unmounts, so a subscription there would outlive the request; one read suffices.
  if (hasInjectionContext() && inject(ssrContextKey, null)) return version
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

/** A read-only ref of `read()`, recomputed only when `version` has moved. */
export function view<T>(version: Ref<number>, read: () => T): Readonly<Ref<T>> {
  return computed(() => {
    version.value
    return read()
  })
}
