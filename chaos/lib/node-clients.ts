import {
  createOutbox,
  type DeliveryError,
  httpTransport,
  manualNetwork,
  memoryStorage,
  type Outbox,
  OutboxFullError,
  type OutboxStorage,
} from '@outbox/core'
import type { Ledger } from './ledger.ts'
import type { FaultProxy } from './proxy.ts'
import { type Random, sleep } from './random.ts'

export type NodeClientOptions = {
  count: number
  lanesPerClient: number
  /** How many of the clients run in persistent mode (memory storage) and restart at random. */
  persistent: number
  proxy: FaultProxy
  rand: Random
  ledger: Ledger
  /** True while the fault phase lasts. */
  running: () => boolean
  /** Mean pause between a client's actions. */
  paceMs: number
  rejectRate: number
  /** Leave `breaker` unset (the defaults: threshold 10, cooldown from 1 s up to 30 s) instead of the short test one. */
  defaultBreaker: boolean
}

export type NodeStats = {
  clients: number
  persistentClients: number
  flaps: number
  restarts: number
  fullRejections: number
  deduped: number
  typing: number
  pauses: number
  flushes: number
  storageErrors: DeliveryError[]
  thrown: string[]
}

type Client = {
  id: string
  lanes: string[]
  network: ReturnType<typeof manualNetwork>
  outbox: Outbox
  storage?: OutboxStorage
  persistenceKey?: string
  recent: Array<{ messageId: string; lane: string }>
}

/**
 * Many Node clients: `createOutbox` with `httpTransport` pointed at the fault proxy, emitting
 * into their lanes while their network flaps (the proxy cuts them off; the monitor notices a
 * little later, as a real OS does). A few run in persistent mode and restart now and then.
 */
export function startNodeClients(options: NodeClientOptions) {
  const { rand, ledger, proxy } = options
  const stats: NodeStats = {
    clients: options.count,
    persistentClients: options.persistent,
    flaps: 0,
    restarts: 0,
    fullRejections: 0,
    deduped: 0,
    typing: 0,
    pauses: 0,
    flushes: 0,
    storageErrors: [],
    thrown: [],
  }
  const clients: Client[] = []

  const open = (client: Omit<Client, 'outbox'> & { outbox?: Outbox }, index: number): Outbox => {
    const outbox = createOutbox({
      transport: httpTransport({
        url: `${proxy.origin}/events`,
        batch: index % 3 === 1 ? { maxItems: rand.int(2, 12) } : false,
        timeoutMs: 1500,
        headers: { 'x-client': client.id },
      }),
      mode: client.storage ? 'persistent' : 'memory',
      ...(client.storage ? { storage: client.storage, persistenceKey: client.persistenceKey } : {}),
      network: client.network,
      retry: { baseMs: 25, maxMs: 400 },
      ...(options.defaultBreaker ? {} : { breaker: { threshold: 8, cooldownMs: 250 } }),
      concurrency: 1 + (index % 6),
      maxSize: index === 0 ? 40 : 10_000,
    })
    outbox.on('outbox:error', ({ error }) => stats.storageErrors.push(error))
    return outbox
  }

  for (let i = 0; i < options.count; i++) {
    const id = `n${i}`
    const persistent = i >= options.count - options.persistent
    const base = {
      id,
      lanes: Array.from({ length: options.lanesPerClient }, (_, l) => `${id}.l${l}`),
      network: manualNetwork(),
      recent: [],
      ...(persistent ? { storage: memoryStorage(), persistenceKey: `chaos-node-${id}-${Date.now()}` } : {}),
    }
    clients.push({ ...base, outbox: open(base, i) })
  }

  let seq = 0
  const emit = (client: Client, event: string, payload: Record<string, unknown>) => {
    try {
      const e = client.outbox.emit(event, payload)
      const durable = !event.startsWith('typing')
      ledger.record({
        emitId: e.emitId,
        lane: e.lane,
        owner: client.id,
        source: 'node',
        durable,
        reject: payload.reject === true,
        confirmed: true,
      })
      return e
    } catch (error) {
      if (error instanceof OutboxFullError) stats.fullRejections++
      else stats.thrown.push(`${client.id}: ${String(error)}`)
      return undefined
    }
  }

  const message = (client: Client) => {
    const lane = rand.pick(client.lanes)
    const messageId = rand.chance(0.5) ? `${client.id}-m${++seq}` : undefined
    const payload: Record<string, unknown> = { chatId: lane, seq: ++seq, text: `hello ${seq}` }
    if (messageId) payload.messageId = messageId
    if (rand.chance(options.rejectRate)) payload.reject = true
    const e = emit(client, 'user:message', payload)
    if (e && messageId) {
      client.recent.push({ messageId, lane })
      if (client.recent.length > 20) client.recent.shift()
    }
  }

  const act = async (client: Client, index: number) => {
    const x = rand()
    if (x < 0.8) message(client)
    else if (x < 0.85) for (let n = rand.int(5, 25); n > 0; n--) message(client)
    else if (x < 0.9) {
      stats.typing++
      emit(client, rand.chance(0.5) ? 'typing:start' : 'typing:stop', {
        chatId: rand.pick(client.lanes),
        userId: client.id,
      })
    } else if (x < 0.93) {
      // The same messageId again: while the first is pending, emit returns its envelope.
      const again = client.recent.length > 0 ? rand.pick(client.recent) : undefined
      if (again) {
        const before = ledger.deduped()
        emit(client, 'user:message', { chatId: again.lane, messageId: again.messageId, text: 'again' })
        if (ledger.deduped() > before) stats.deduped++
      }
    } else if (x < 0.95) {
      stats.flushes++
      void client.outbox.flush()
    } else if (x < 0.96) {
      stats.pauses++
      client.outbox.pause()
      await sleep(rand.int(50, 400))
      client.outbox.resume()
    } else if (x < 0.975 && client.storage) {
      // A crash-free restart: close without flushing (in-flight calls are aborted and stay
      // stored), then a new outbox on the same storage, which loads and sends them.
      stats.restarts++
      await client.outbox.close()
      client.outbox = open(client, index)
    }
  }

  const loop = async (client: Client, index: number) => {
    while (options.running()) {
      await sleep(rand.int(1, options.paceMs * 2))
      await act(client, index)
    }
  }

  const flap = async (client: Client) => {
    while (options.running()) {
      await sleep(rand.int(1000, 6000))
      if (!options.running()) break
      stats.flaps++
      proxy.offline.add(client.id)
      const down = rand.int(100, 1500)
      const lag = rand.int(0, 300)
      // The OS notices a moment later, or (for a short blip) never.
      const notice = lag < down ? setTimeout(() => options.running() && client.network.set(false), lag) : undefined
      await sleep(down)
      proxy.offline.delete(client.id)
      if (notice) {
        await sleep(rand.int(0, 300))
        client.network.set(true)
      }
    }
    client.network.set(true)
  }

  const done = Promise.all(clients.flatMap((c, i) => [loop(c, i), flap(c)]))

  return {
    clients,
    stats,
    /** Resolves when every loop has stopped (after `running()` turned false). */
    stopped: done,
    /** The faults stop: every network is up again. */
    calm() {
      for (const c of clients) c.network.set(true)
    },
    pendingCount: () => clients.reduce((n, c) => n + c.outbox.size.peek(), 0),
    /** The emitIds every client still lists as failed, and as pending. */
    settledIds() {
      const failedIds = new Set<string>()
      const pendingIds = new Set<string>()
      for (const c of clients) {
        for (const f of c.outbox.failed.peek()) failedIds.add(f.emitId)
        for (const p of c.outbox.pending.peek()) pendingIds.add(p.emitId)
      }
      return { failedIds, pendingIds }
    },
    async close() {
      for (const c of clients) await c.outbox.close()
    },
  }
}

export type NodeClients = ReturnType<typeof startNodeClients>
