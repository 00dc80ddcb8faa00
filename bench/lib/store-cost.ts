import { startRedis } from '../../scripts/redis-server.ts'
import { child } from './child.ts'

type Run = { keysPerSecond: number; p50Ms: number; p99Ms: number }
export type StoreCost = Record<'memory' | 'redis', Record<'single' | 'batch', Run>>

/**
 * One repetition of the store figures: a redis-server of its own (AOF on, free 127.0.0.1 port),
 * `node/redis-store.ts` in a child process against it, then the server stopped.
 */
export async function measureStoreCost(n: number, batch: number): Promise<StoreCost> {
  const redis = await startRedis()
  try {
    return (await child('node/redis-store.ts', { redisUrl: redis.url, n, batch })) as StoreCost
  } finally {
    await redis.stop()
  }
}

/** The samples a repetition adds: rates, latencies, and what Redis adds over memory. */
export function storeSamples(cost: StoreCost): Array<[string, number]> {
  const out: Array<[string, number]> = []
  for (const mode of ['single', 'batch'] as const) {
    const m = cost.memory[mode]
    const r = cost.redis[mode]
    out.push(
      [`store.memory.${mode}.keys`, m.keysPerSecond],
      [`store.redis.${mode}.keys`, r.keysPerSecond],
      [`store.memory.${mode}.p50`, m.p50Ms],
      [`store.redis.${mode}.p50`, r.p50Ms],
      [`store.memory.${mode}.p99`, m.p99Ms],
      [`store.redis.${mode}.p99`, r.p99Ms],
      [`store.added.${mode}.p50`, r.p50Ms - m.p50Ms],
      [`store.added.${mode}.p99`, r.p99Ms - m.p99Ms],
    )
  }
  return out
}
