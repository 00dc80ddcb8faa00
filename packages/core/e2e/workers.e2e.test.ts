import { describe, expect, it } from 'vitest'
import {
  allApplied,
  expectDelivered,
  messages,
  openPage,
  storedKeys,
  uniqueKey,
  useBrowser,
  useServer,
  waitFor,
} from './helpers.ts'
import type { Emitted } from './page.ts'

describe('dedicated worker', () => {
  it('(e) an outbox in a dedicated worker keeps what it could not send, and the next worker delivers it once, in lane order', async () => {
    const server = await useServer()
    const context = await (await useBrowser()).newContext()
    const key = uniqueKey('worker')
    const page = await openPage(context, server)
    const call = (message: unknown) => page.evaluate((m) => window.harness.dedicatedWorker.call(m), message)

    await page.evaluate(() => window.harness.dedicatedWorker.start())
    await call({ op: 'start', persistenceKey: key })
    await server.stop()
    const emitted = (await call({ op: 'emit', list: messages(['a', 'b'], 4, 'worker') })) as Emitted[]
    const ids = emitted.map((e) => e.emitId)
    await waitFor(async () => {
      const stored = await storedKeys(page, key)
      return ids.every((id) => stored.includes(id))
    }, 'the worker to store every item in IndexedDB')
    expect(await call({ op: 'size' })).toBe(ids.length)
    // The worker goes away with its items unsent, holding the sender lock: terminating it must free both.
    await page.evaluate(() => window.harness.dedicatedWorker.terminate())
    expect(server.applied.size).toBe(0)

    await server.restart()
    await page.evaluate(() => window.harness.dedicatedWorker.start())
    await call({ op: 'start', persistenceKey: key })
    await allApplied(server, emitted)
    expectDelivered(server, [emitted])
    expect(new Set(server.requests.map((r) => r.tab))).toEqual(new Set(['worker']))
    await waitFor(async () => (await storedKeys(page, key)).length === 0, 'acked items to be deleted from IndexedDB')
    expect(await call({ op: 'size' })).toBe(0)
  })
})
