import { isRecord } from './guards.ts'
import type { BeginResult, IdempotencyStore } from './idempotency-store.ts'
import type { AckResult } from './types.ts'

/** Arguments of a script call, as node-redis 4 to 6 take them. */
export type RedisScriptArguments = { keys: string[]; arguments: string[] }

/**
 * The two methods `redisStore` uses from a connected node-redis client (the `redis` package, v4
 * to v6; Valkey servers too). Typed by shape, so `@outbox/server` depends on no Redis package:
 * any client with these methods works.
 */
export type RedisScriptClient = {
  eval(script: string, options: RedisScriptArguments): Promise<unknown>
  evalSha(sha1: string, options: RedisScriptArguments): Promise<unknown>
}

export type RedisStoreOptions = {
  /** Put before every key, to share one Redis with other data. Default `'outbox:'`. */
  prefix?: string
  /**
   * How long a completed key is remembered, from completion. Keep it at least the client's
   * `retry.maxAgeMs`: a retry after it applies the event again. Default 24 h.
   */
  ttlMs?: number
  /** How long a claim blocks its key unless renewed; renewed every third of it while `apply` runs. Default 60 s. */
  leaseMs?: number
  /**
   * Longest wait for one Redis call. A client that lost its connection queues commands until it
   * reconnects; past this the handler answers 503 with `Retry-After` instead. Default 2 s.
   */
  timeoutMs?: number
}

/** Redis did not answer in time, failed, or held something this store did not write. */
export class RedisStoreError extends Error {
  override readonly name = 'RedisStoreError'
  constructor(
    message: string,
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/**
 * Claims a free key with `SET NX PX` and answers 1, or answers what the key holds. One step, so
 * of two instances asking at once exactly one gets the claim.
 */
const BEGIN = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return redis.call('GET', KEYS[1])`

/**
 * Acts on a claim only while it is still the caller's: the stored claim must start with the
 * caller's `{"claim":"<token>",`. Compared inside Redis, so nothing can change between the check
 * and the write. ARGV: prefix, operation, then the operation's arguments.
 */
const HELD = `local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 1, #ARGV[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'complete' then redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
elseif ARGV[2] == 'renew' then redis.call('PEXPIRE', KEYS[1], ARGV[3])
else redis.call('DEL', KEYS[1]) end
return 1`

const isAckResult = (value: unknown): value is AckResult =>
  isRecord(value) &&
  typeof value.emitId === 'string' &&
  (value.ok === true || (value.ok === false && (typeof value.code === 'string' || typeof value.code === 'number')))

const DAY = 24 * 60 * 60 * 1000

const positive = (name: string, value: number): number => {
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new RangeError(`redisStore: ${name} must be a positive whole number of milliseconds; got ${value}.`)
  return value
}

const sha1 = async (text: string): Promise<string> => {
  const digest = await crypto.subtle.digest('SHA-1', new TextEncoder().encode(text))
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * An `IdempotencyStore` in Redis, shared by every server instance that uses the same Redis and
 * `prefix`: `redisStore(client)` with a connected node-redis client. One key per emitId holds
 * either a claim `{ claim: token, fingerprint }` (expires after `leaseMs` unless renewed) or the
 * answer `{ fingerprint, result }` (expires after `ttlMs`). Only the claim's holder can complete,
 * release or renew it: its token is compared inside Redis by a Lua script. What Redis holds is
 * checked when read back; anything this store did not write is an error, never an answer.
 *
 * Run Redis with AOF (`appendonly yes`), or a restart forgets recent keys and their events can
 * be applied again. A process that dies after `apply` and before `complete` leaves a claim that
 * expires after `leaseMs`; a retry after that applies the event again, unless `apply` itself is
 * idempotent (see the README).
 */
export function redisStore(client: RedisScriptClient, options: RedisStoreOptions = {}): IdempotencyStore {
  const prefix = options.prefix ?? 'outbox:'
  if (typeof prefix !== 'string') throw new TypeError('redisStore: prefix must be a string.')
  const ttl = String(positive('ttlMs', options.ttlMs ?? DAY))
  const leaseMs = positive('leaseMs', options.leaseMs ?? 60_000)
  const timeoutMs = positive('timeoutMs', options.timeoutMs ?? 2_000)
  const shas = new Map<string, Promise<string>>()

  /** EVALSHA, then EVAL when Redis does not know the script (first use, after a restart). */
  const run = async (script: string, key: string, args: string[]): Promise<unknown> => {
    let sha = shas.get(script)
    if (!sha) shas.set(script, (sha = sha1(script)))
    const call = { keys: [prefix + key], arguments: args }
    try {
      return await client.evalSha(await sha, call)
    } catch (error) {
      if (!String((error as Error | undefined)?.message).includes('NOSCRIPT')) throw error
      return client.eval(script, call)
    }
  }

  /** One script call, bounded by `timeoutMs`; every failure becomes a `RedisStoreError`. */
  const call = async (script: string, key: string, args: string[]): Promise<unknown> => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RedisStoreError(`Redis did not answer within ${timeoutMs} ms.`, key)),
        timeoutMs,
      )
    })
    try {
      return await Promise.race([run(script, key, args), late])
    } catch (error) {
      if (error instanceof RedisStoreError) throw error
      throw new RedisStoreError(`Redis failed: ${(error as Error | undefined)?.message ?? error}`, key, {
        cause: error,
      })
    } finally {
      clearTimeout(timer)
    }
  }

  const claimOf = (token: string) => `{"claim":${JSON.stringify(token)},`

  const held = async (key: string, token: string, args: string[]): Promise<boolean> => {
    const reply = await call(HELD, key, [claimOf(token), ...args])
    if (reply !== 0 && reply !== 1) throw new RedisStoreError(`Redis answered ${String(reply)}, not 0 or 1.`, key)
    return reply === 1
  }

  return {
    async begin(key, fingerprint): Promise<BeginResult> {
      const token = crypto.randomUUID()
      const reply = await call(BEGIN, key, [
        `${claimOf(token)}"fingerprint":${JSON.stringify(fingerprint)}}`,
        `${leaseMs}`,
      ])
      if (reply === 1) return { status: 'started', token, leaseMs }
      let entry: unknown
      try {
        entry = typeof reply === 'string' ? JSON.parse(reply) : undefined
      } catch {}
      if (isRecord(entry) && typeof entry.fingerprint === 'string') {
        if (typeof entry.claim === 'string') return { status: 'in-progress', fingerprint: entry.fingerprint }
        if (isAckResult(entry.result)) return { status: 'done', fingerprint: entry.fingerprint, result: entry.result }
      }
      throw new RedisStoreError(
        `${prefix}${key} holds something this store did not write; delete it to reuse the key.`,
        key,
      )
    },
    complete: (key, token, fingerprint, result) =>
      held(key, token, ['complete', JSON.stringify({ fingerprint, result }), ttl]),
    abandon: (key, token) => held(key, token, ['abandon']),
    renew: (key, token) => held(key, token, ['renew', `${leaseMs}`]),
  }
}
