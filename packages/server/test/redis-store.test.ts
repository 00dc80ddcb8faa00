import { createClient } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedis } from '../../../scripts/redis-server.ts'
import { createOutboxHandler } from '../src/handler.ts'
import { RedisStoreError, redisStore } from '../src/redis.ts'
import { envelope, singleRequest } from './helpers.ts'
import { LEASE_MS, storeConformance, TTL_MS } from './store-conformance.ts'

let server: RedisServer
const clients: { isOpen: boolean; close(): Promise<unknown> }[] = []
let prefixes = 0

const connect = async () => {
  const client = createClient({ url: server.url })
  client.on('error', () => {}) // reconnects are expected while a test stops or pauses Redis
  await client.connect()
  clients.push(client)
  return client
}

beforeAll(async () => {
  server = await startRedis()
}, 20_000)

afterAll(async () => {
  await Promise.all(clients.map((c) => (c.isOpen ? c.close() : undefined)))
  await server?.stop()
})

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

storeConformance('redisStore', {
  async open(instances = 1) {
    const prefix = `t${++prefixes}:`
    return Promise.all(
      Array.from({ length: instances }, async () =>
        redisStore(await connect(), { prefix, leaseMs: LEASE_MS, ttlMs: TTL_MS, timeoutMs: 300 }),
      ),
    )
  },
  advance: sleep, // Redis keeps its own time: the lease and TTL run on the wall clock
  async unreachable() {
    const client = await connect()
    server.pause() // Redis stops answering; the client's command waits past timeoutMs
    return { store: redisStore(client, { timeoutMs: 300 }), restore: async () => server.resume() }
  },
})

describe('redisStore', () => {
  it('treats a value it did not write as an error, answering 503 instead of trusting it', async () => {
    const client = await connect()
    const store = redisStore(client, { prefix: 'junk:' })
    for (const junk of ['not json', '{"fingerprint":"f"}', '{"fingerprint":"f","result":{"ok":"yes"}}', '[1]']) {
      await client.set(`junk:${envelope(1).emitId}`, junk)
      await expect(store.begin(envelope(1).emitId, 'f')).rejects.toBeInstanceOf(RedisStoreError)
    }
    let applies = 0
    const handler = createOutboxHandler({ apply: () => void applies++, store, onError: () => {} })
    expect((await handler(singleRequest(envelope(1)))).status).toBe(503)
    expect(applies).toBe(0)
  })

  it('fails with RedisStoreError on a closed client', async () => {
    const client = await connect()
    await client.close()
    await expect(redisStore(client).begin('k', 'f')).rejects.toBeInstanceOf(RedisStoreError)
  })

  it('keeps claims and answers across a Redis restart (AOF)', async () => {
    const client = await connect()
    const store = redisStore(client, { prefix: 'aof:' })
    const found = await store.begin('k', 'f')
    if (found.status !== 'started') throw new Error('not claimed')
    await store.complete('k', found.token, 'f', { ok: true, emitId: 'k', id: 7 })
    await server.restart()
    await expect.poll(() => client.isReady, { timeout: 10_000 }).toBe(true)
    // After a restart Redis knows no scripts: the store loads them again (NOSCRIPT, then EVAL).
    expect(await store.begin('k', 'f')).toEqual({
      status: 'done',
      fingerprint: 'f',
      result: { ok: true, emitId: 'k', id: 7 },
    })
  })

  it('refuses options it cannot use', () => {
    const client = { eval: async () => 0, evalSha: async () => 0 }
    expect(() => redisStore(client, { leaseMs: 0 })).toThrow(RangeError)
    expect(() => redisStore(client, { ttlMs: 1.5 })).toThrow(/ttlMs/)
    expect(() => redisStore(client, { timeoutMs: Number.NaN })).toThrow(RangeError)
  })
})
