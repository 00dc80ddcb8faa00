import type { Outbox } from '@outbox/core'
import { getContext, hasContext, setContext } from 'svelte'

// A symbol, so no other library's context can collide with ours.
const key = Symbol('@outbox/svelte')

/**
 * Makes `outbox` available to this component and its descendants through `getOutbox()`.
 * Call it during component initialisation, usually in the root layout.
 */
export function setOutbox(outbox: Outbox): Outbox {
  return setContext(key, outbox)
}

/**
 * The outbox that an ancestor component passed to `setOutbox`. Call it during component
 * initialisation. Throws when no ancestor set one.
 */
export function getOutbox(): Outbox {
  if (!hasContext(key))
    throw new Error(
      '@outbox/svelte: no outbox in context. Call setOutbox(createOutbox({ ... })) in a parent component ' +
        '(for example the root layout), or pass the outbox explicitly.',
    )
  return getContext<Outbox>(key)
}
