import { monotonicFactory } from 'ulid'

/**
 * Returns a generator of monotonic ULIDs: strictly increasing even within one millisecond, so
 * sorting by `emitId` is sorting by emit order. Without `random`, ulid uses `crypto.getRandomValues`.
 */
export function createIdFactory(random?: () => number): (now: number) => string {
  const next = monotonicFactory(random)
  // ulid treats a seed time of 0 as "now"; an injected clock may legitimately start at 0.
  return (now) => next(Math.max(1, Math.floor(now)))
}

const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/

/** True for a canonical (upper-case Crockford base32) ULID. */
export const isUlid = (value: unknown): value is string => typeof value === 'string' && ULID.test(value)
