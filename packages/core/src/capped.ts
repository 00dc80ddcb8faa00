type Keyed = { readonly size: number; keys(): Iterator<unknown>; delete(key: never): boolean }

/**
 * Returns a function that drops `target`'s oldest keys (insertion order) beyond `max`. Its walk
 * over the keys is kept from one call to the next: a fresh `keys().next()` on each call steps over
 * every slot deleted at the front of the Map or Set (V8 reclaims them only when it resizes the
 * table), about 16 µs a call at 10 000 keys instead of 0.3.
 */
export function capTo(target: Keyed, max: number): () => void {
  let walk: Iterator<unknown> | undefined
  return () => {
    while (target.size > max) {
      const next = (walk ??= target.keys()).next()
      if (next.done) walk = undefined
      else target.delete(next.value as never)
    }
  }
}
