import { createSubscriber } from 'svelte/reactivity'
import type { Readable } from 'svelte/store'

/** What `fromSignal` needs of a signal; the core's `ReadonlySignal`s fit. */
export interface SignalLike<T> {
  peek(): T
  /** Calls `fn` at once with the value, then on each change; returns the unsubscribe function. */
  subscribe(fn: (value: T) => void): () => void
}

/** A Svelte store (`$view` in components) that also has a rune-friendly `current`. */
export interface SignalStore<T> extends Readable<T> {
  /** The value; reading it in a template, `$derived` or `$effect` re-runs them when it changes. */
  readonly current: T
}

/**
 * Turns a signal into a Svelte store that also has a reactive `current` getter, so the same
 * object works as `$store` in any component and as `store.current` in runes code
 * (`.svelte.ts` modules, classes). Subscribes to the signal only while something reads it.
 */
export function fromSignal<T>(signal: SignalLike<T>): SignalStore<T> {
  const track = createSubscriber((update) => {
    // The signal calls back at once with the value `current` just read: only later calls are changes.
    let first = true
    return signal.subscribe(() => {
      if (first) first = false
      else update()
    })
  })
  return {
    subscribe: (run) => signal.subscribe(run),
    get current() {
      track()
      return signal.peek()
    },
  }
}
