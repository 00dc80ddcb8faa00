import { type Outbox, OutboxError } from '@outbox/core'
import { hasInjectionContext, type InjectionKey, inject, type Plugin } from 'vue'

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

/** The outbox passed in, else the provided one; throws `OutboxNotProvidedError` when there is neither. */
export function resolveOutbox(outbox: Outbox | undefined, caller: string): Outbox {
  const found = outbox ?? (hasInjectionContext() ? inject(outboxKey, undefined) : undefined)
  if (!found) throw new OutboxNotProvidedError(caller)
  return found
}
