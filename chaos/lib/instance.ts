/**
 * One `@outbox/server` process of the multi-instance profile (`multi.ts` starts three, kills one
 * with SIGKILL and starts it again). Every instance shares one Redis: `redisStore` for the
 * idempotency keys, and the "application data" its `apply` writes, so what was applied survives
 * the process. `apply` writes two records in one Lua script:
 * - `calls`: every call of `apply`, as a plain `apply` without a unique key would leave its effect;
 * - `effects`: the same effect guarded by the app's own unique key (`HSETNX` on the emitId),
 *   as the README's idempotent `apply` does.
 * Some calls take a while before the write, and every call 5–150 ms after it: the crash window,
 * where a kill leaves an applied event whose answer was never stored.
 *
 *   node --import tsx --conditions=source lib/instance.ts PORT REDIS_URL LEASE_MS SEED
 */
import { createServer } from 'node:http'
import { createOutboxHandler, reject, toNodeListener } from '@outbox/server'
import { redisStore } from '@outbox/server/redis'
import { createClient } from 'redis'
import { random, sleep } from './random.ts'
import { RECORD_KEYS } from './records.ts'

const RECORD = `redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('RPUSH', KEYS[3], ARGV[1])
if ARGV[2] == 'r' then redis.call('SADD', KEYS[5], ARGV[1]) end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 1 then redis.call('RPUSH', KEYS[4], ARGV[1]) end
return 1`

async function main() {
  const [port, url, lease, seed] = process.argv.slice(2)
  const rand = random(Number(seed))
  const redis = createClient({ url, socket: { reconnectStrategy: () => 50 } })
  redis.on('error', () => {}) // it reconnects; calls meanwhile fail or time out (503)
  await redis.connect()
  const handler = createOutboxHandler({
    store: redisStore(redis, { prefix: 'chaos:idem:', leaseMs: Number(lease), timeoutMs: 1_000 }),
    maxBatch: 100,
    onError: (error) => console.error(`[instance ${port}] ${String(error)}`),
    async apply(envelope) {
      if (rand.chance(0.05)) await sleep(rand.int(1, 40))
      const rejected = envelope.payload.reject === true
      await redis.eval(RECORD, {
        keys: [
          RECORD_KEYS.calls,
          RECORD_KEYS.effects,
          RECORD_KEYS.callsLane(envelope.lane),
          RECORD_KEYS.effectsLane(envelope.lane),
          RECORD_KEYS.rejected,
        ],
        arguments: [envelope.emitId, rejected ? 'r' : 'a'],
      })
      // Work after the effect (a notification, say): a SIGKILL here is the crash window.
      await sleep(rand.int(5, 150))
      return rejected ? reject('poison', { message: 'This event carries the reject flag.' }) : { instance: port }
    },
  })
  const server = createServer(toNodeListener(handler))
  server.keepAliveTimeout = 30_000
  server.listen(Number(port), '127.0.0.1', () => console.log('ready'))
}

main().catch((error) => {
  console.error(error)
  process.exit(2)
})
