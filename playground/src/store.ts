/** The Svelte store contract, which the Vue pages read through `useStore`. */
export interface Readable<T> {
  /** Calls `run` at once with the value, then on every change; returns the unsubscribe function. */
  subscribe(run: (value: T) => void): () => void
}

export interface Writable<T> extends Readable<T> {
  get(): T
  set(value: T): void
  update(fn: (value: T) => T): void
}

/** A minimal store without any framework, so the chat client serves both pages. */
export function writable<T>(initial: T): Writable<T> {
  let value = initial
  const runs = new Set<(value: T) => void>()
  const set = (next: T) => {
    if (Object.is(next, value)) return
    value = next
    for (const run of [...runs]) run(value)
  }
  return {
    get: () => value,
    set,
    update: (fn) => set(fn(value)),
    subscribe(run) {
      runs.add(run)
      run(value)
      return () => void runs.delete(run)
    },
  }
}
