/** A minimal typed event emitter. A throwing listener is reported, never breaks the outbox. */
export interface Emitter<Events extends Record<string, unknown>> {
  on<K extends keyof Events>(event: K, fn: (e: Events[K]) => void): () => void
  emit<K extends keyof Events>(event: K, e: Events[K]): void
  has(event: keyof Events): boolean
  clear(): void
}

export function createEmitter<Events extends Record<string, unknown>>(): Emitter<Events> {
  const listeners = new Map<keyof Events, Set<(e: never) => void>>()
  return {
    on<K extends keyof Events>(event: K, fn: (e: Events[K]) => void): () => void {
      let set = listeners.get(event)
      if (!set) listeners.set(event, (set = new Set()))
      set.add(fn as (e: never) => void)
      return () => void set.delete(fn as (e: never) => void)
    },
    emit<K extends keyof Events>(event: K, e: Events[K]): void {
      const set = listeners.get(event)
      if (!set) return
      for (const fn of set) {
        try {
          ;(fn as (e: Events[K]) => void)(e)
        } catch (error) {
          reportError(error)
        }
      }
    },
    has: (event: keyof Events): boolean => (listeners.get(event)?.size ?? 0) > 0,
    clear: (): void => listeners.clear(),
  }
}

/** Reports an error thrown by app code (a listener, a subscriber) without breaking the outbox. */
export const reportError = (error: unknown): void => {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(error)
  else
    queueMicrotask(() => {
      throw error
    })
}
