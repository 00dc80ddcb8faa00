import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createOutboxHandler, type Envelope, memoryStore, reject, toNodeListener } from '@outbox/server'
import { type Random, sleep } from './random.ts'

/** What the server saw of one emitId. */
export type Application = { applied: number; rejected: number; lane: string; durable: boolean }

/**
 * The idempotent server half: `@outbox/server` on node:http (127.0.0.1). Its `apply` records every
 * application per emitId and the order of applications per lane, and refuses envelopes whose
 * payload says `reject: true` with a hard (non-retryable) rejection. `apply` sometimes takes a
 * while, so retries meet a claimed key (409) and answers race with client timeouts.
 */
export async function startServer(rand: Random, options: { slowApplyRate: number; slowApplyMs: number }) {
  const byId = new Map<string, Application>()
  const laneLog = new Map<string, string[]>()
  const errors: string[] = []
  /** emitIds first applied from a page-hide beacon (a keepalive request). */
  const viaBeacon = new Set<string>()
  let applications = 0

  const handler = createOutboxHandler({
    store: memoryStore({ maxEntries: 1_000_000, leaseMs: 30_000 }),
    maxBatch: 100,
    onError: (error) => errors.push(String(error)),
    async apply(envelope: Envelope, context) {
      if (context.request.headers.get('x-beacon') === '1') viaBeacon.add(envelope.emitId)
      if (rand.chance(options.slowApplyRate)) await sleep(rand.int(1, options.slowApplyMs))
      const seen = byId.get(envelope.emitId) ?? {
        applied: 0,
        rejected: 0,
        lane: envelope.lane,
        durable: !envelope.event.startsWith('typing'),
      }
      byId.set(envelope.emitId, seen)
      const log = laneLog.get(envelope.lane) ?? []
      log.push(envelope.emitId)
      laneLog.set(envelope.lane, log)
      applications++
      if (envelope.payload.reject === true) {
        seen.rejected++
        return reject('poison', { message: 'This event carries the reject flag.', hint: 'Discard it.' })
      }
      seen.applied++
      return { serverSeq: applications }
    },
  })

  const server = createServer(toNodeListener(handler))
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    byId,
    laneLog,
    viaBeacon,
    errors,
    applications: () => applications,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export type Server = Awaited<ReturnType<typeof startServer>>
