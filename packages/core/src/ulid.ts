/** Crockford's base 32, as ULIDs spell it. */
const B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/**
 * Returns a generator of monotonic ULIDs (https://github.com/ulid/spec): 10 characters of
 * millisecond time, then 16 of randomness. Within one millisecond (or when the clock steps back)
 * the randomness of the last id is incremented instead, so ids are strictly increasing and sorting
 * by `emitId` is sorting by emit order. Without `random`, it draws from `crypto.getRandomValues`.
 *
 * Written here rather than taken from the `ulid` package, which costs 1.7 kB in a bundle (its
 * monotonic factory, PRNG detection and errors) for these 30 lines; tests check the ids against it.
 */
export function createIdFactory(random?: () => number): (now: number) => string {
  const draw = random ?? pooledRandom()
  const digits: number[] = []
  let lastTime = -1
  let prefix = ''
  return (now) => {
    const time = Math.max(0, Math.floor(now))
    if (time > lastTime) {
      if (time >= 2 ** 48) throw new RangeError(`Cannot make a ULID for time ${now}: it is past the year 10889.`)
      lastTime = time
      prefix = ''
      for (let t = time, i = 0; i < 10; i++, t = Math.floor(t / 32)) prefix = B32[t % 32] + prefix
      // Last character first, as the ulid package draws them: the same `random` gives the same ids.
      for (let i = 15; i >= 0; i--) digits[i] = Math.floor(draw() * 32) % 32
    } else {
      // Adds one to the 80-bit random part; it overflows only after 2^80 ids in one millisecond.
      let i = 15
      while (digits[i] === 31) digits[i--] = 0
      if (i < 0) throw new RangeError('ULID randomness exhausted within one millisecond.')
      digits[i] = (digits[i] as number) + 1
    }
    let id = prefix
    for (let i = 0; i < 16; i++) id += B32[digits[i] as number]
    return id
  }
}

/**
 * Cryptographic randomness drawn 4 KiB at a time: one number per character, and one
 * `getRandomValues` call each costs more than the rest of an emit. 256 divides evenly into 32
 * characters, so the draw stays uniform. Where there is no Web Crypto, `Math.random`: an emitId is
 * an idempotency key, not a secret, and 80 bits keep two clients' ids apart either way.
 */
function pooledRandom(): () => number {
  const crypto = globalThis.crypto
  if (typeof crypto?.getRandomValues !== 'function') return Math.random
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

/** A canonical ULID: a time digit 0-7 (48 bits), then 25 digits of the same alphabet. */
const ULID = new RegExp(`^[0-7][${B32}]{25}$`)

/** True for a canonical (upper-case Crockford base32) ULID. */
export const isUlid = (value: unknown): value is string => typeof value === 'string' && ULID.test(value)
