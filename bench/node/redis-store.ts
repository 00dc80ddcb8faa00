/**
 * What the idempotency store costs per event: `createOutboxHandler` called directly (no HTTP, so
 * only the handler and its store are timed) with `memoryStore` and with `redisStore` on a real
 * redis-server the parent started (AOF on, 127.0.0.1). Single requests and batches of `batch`,
 * one after another, every event new (so each costs a claim and a stored answer: two round trips
 * to Redis). Prints one JSON line: { result: { memory: {...}, redis: {...} } }.
 * Usage: node --import tsx node/redis-store.ts '{"redisUrl":"redis://127.0.0.1:PORT","n":2000,"batch":50}'
 */
import type { EmitEnvelope } from '@outbox/core'
import { createOutboxHandler, type IdempotencyStore, memoryStore } from '@outbox/server'
import { redisStore } from '@outbox/server/redis'
import { createClient } from 'redis'
import { chatPayload } from '../lib/payload.ts'
import { envelopesOf } from './envelopes.ts'

const envelopes = (n: number) => envelopesOf(Array.from({ length: n }, (_, i) => chatPayload(i)))

const config = JSON.parse(process.argv[2] ?? '{}') as { redisUrl: string; n: number; batch: number }

const request = (body: unknown) =>
  new Request('http://bench/api/events', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number

/** `list` sent in requests of `batch` (1: single mode), one after another. */
async function run(store: IdempotencyStore, list: EmitEnvelope[], batch: number) {
  const handler = createOutboxHandler({ store, apply: () => undefined, onError: (e) => console.error(e) })
  const latencies: number[] = []
  const t0 = performance.now()
  for (let i = 0; i < list.length; i += batch) {
    const body = batch === 1 ? list[i] : { envelopes: list.slice(i, i + batch) }
    const start = performance.now()
    const response = await handler(request(body))
    if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`)
    latencies.push(performance.now() - start)
  }
  const ms = performance.now() - t0
  latencies.sort((a, b) => a - b)
  return {
    keysPerSecond: (list.length / ms) * 1000,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  }
}

async function main() {
  const client = await createClient({ url: config.redisUrl }).connect()
  let runs = 0
  const stores = {
    memory: () => memoryStore(),
    redis: () => redisStore(client, { prefix: `bench:${process.pid}:${++runs}:` }),
  }
  // Warm-up (not recorded): JIT, the scripts loaded into Redis.
  for (const make of Object.values(stores)) {
    await run(make(), await envelopes(500), 1)
    await run(make(), await envelopes(500), config.batch)
  }
  const result: Record<string, Record<string, unknown>> = { memory: {}, redis: {} }
  // Memory and Redis alternate, so both see the machine in the same state.
  for (const [mode, batch] of [
    ['single', 1],
    ['batch', config.batch],
  ] as const) {
    for (const [name, make] of Object.entries(stores))
      (result[name] as Record<string, unknown>)[mode] = await run(make(), await envelopes(config.n), batch)
  }
  await client.close()
  console.log(JSON.stringify({ result }))
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
