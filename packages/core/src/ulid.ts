import { monotonicFactory } from 'ulid'

/**
 * Returns a generator of monotonic ULIDs: strictly increasing even within one millisecond, so
 * sorting by `emitId` is sorting by emit order. Without `random`, ulid uses `crypto.getRandomValues`.
 */
export function createIdFactory(random?: () => number): (now: number) => string {
  const next = monotonicFactory(random ?? pooledRandom())
  // ulid treats a seed time of 0 as "now"; an injected clock may legitimately start at 0.
  return (now) => next(Math.max(1, Math.floor(now)))
}

/**
 * Cryptographic randomness drawn 4 KiB at a time: ulid asks for one number per character, and one
 * `getRandomValues` call each costs more than the rest of an emit. 256 divides evenly into 32
 * characters, so the draw stays uniform.
 */
function pooledRandom(): (() => number) | undefined {
  const crypto = globalThis.crypto
  if (typeof crypto?.getRandomValues !== 'function') return undefined
  const pool = new Uint8Array(4096)
  let at = pool.length
  return () => {
    if (at === pool.length) {
      crypto.getRandomValues(pool)
      at = 0
    }
    return (pool[at++] as number) / 256
  }
}

const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/

/** True for a canonical (upper-case Crockford base32) ULID. */
export const isUlid = (value: unknown): value is string => typeof value === 'string' && ULID.test(value)
