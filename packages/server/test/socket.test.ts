import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createOutbox, socketNetwork, socketTransport } from '@outbox/core'
import { Server, type Socket as ServerSocket } from 'socket.io'
import { io, type Socket } from 'socket.io-client'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { reject } from '../src/ack.ts'
import { createOutboxHandler } from '../src/handler.ts'
import { memoryStore } from '../src/memory-store.ts'
import { createOutboxSocketHandler, type OutboxSocketHandlerOptions } from '../src/socket.ts'
import type { Envelope } from '../src/types.ts'
import { deferred, envelope, recorder, singleRequest } from './helpers.ts'

let cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanups.reverse()) await fn()
  cleanups = []
})

type Options = Partial<OutboxSocketHandlerOptions<ServerSocket>>

/** socket.io on 127.0.0.1 with the outbox handler on every connection; `use` runs before it. */
async function startServer(options: Options = {}, use?: (socket: ServerSocket, packet: unknown[]) => boolean) {
  const calls = recorder()
  const handler = createOutboxSocketHandler<ServerSocket>({
    apply: (e) => {
      calls.calls.push(e)
      return { serverId: `s-${calls.calls.length}` }
    },
    onError: vi.fn(),
    ...options,
  })
  const http = createServer()
  const server = new Server(http)
  server.on('connection', (socket) => {
    if (use) socket.use((packet, next) => (use(socket, packet) ? next() : undefined))
    handler(socket)
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`
  cleanups.push(() => new Promise((resolve) => server.close(resolve)))
  return { url, calls, handler }
}

async function connect(url: string, auth: Record<string, unknown> = {}): Promise<Socket> {
  const socket = io(url, {
    transports: ['websocket'],
    auth,
    reconnectionDelay: 10,
    reconnectionDelayMax: 50,
    randomizationFactor: 0,
  })
  cleanups.push(() => socket.disconnect())
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  return socket
}

const ask = (socket: Socket, message: unknown) => socket.timeout(5_000).emitWithAck('outbox', message)

describe('createOutboxSocketHandler', () => {
  it('applies an envelope once and answers every repeat with the same ack', async () => {
    const { url, calls } = await startServer()
    const socket = await connect(url)
    const first = await ask(socket, envelope(1))
    const again = await ask(socket, envelope(1))
    expect(first).toEqual({ ok: true, emitId: envelope(1).emitId, serverId: 's-1' })
    expect(again).toEqual(first)
    expect(calls.count(envelope(1).emitId)).toBe(1)
  })

  it('answers bad-request, applying nothing, for a message that is not an envelope or an oversized batch', async () => {
    const { url, calls } = await startServer({ maxBatch: 2 })
    const socket = await connect(url)
    await expect(ask(socket, { emitId: 'nope' })).resolves.toMatchObject({
      ok: false,
      code: 'bad-request',
      retryable: false,
      message: expect.stringMatching(/message\.emitId must be a ULID/),
    })
    await expect(ask(socket, { envelopes: [envelope(1), envelope(2), envelope(3)] })).resolves.toMatchObject({
      ok: false,
      code: 'bad-request',
      message: expect.stringMatching(/limit is 2/),
    })
    await expect(ask(socket, { envelopes: [envelope(1), { emitId: 1 }] })).resolves.toMatchObject({
      code: 'bad-request',
      message: expect.stringMatching(/envelopes\[1\]\.emitId/),
    })
    expect(calls.calls).toEqual([])
  })

  it('applies a batch in order and holds a lane behind an event that did not settle', async () => {
    const { url, calls } = await startServer({
      apply: (e) => {
        calls.calls.push(e)
        return e.payload.n === 2 ? reject('busy', { retryable: true }) : { n: e.payload.n }
      },
    })
    const socket = await connect(url)
    const batch = [
      envelope(1, { payload: { n: 1 } }),
      envelope(2, { payload: { n: 2 } }),
      envelope(3, { payload: { n: 3 } }),
      envelope(4, { payload: { n: 4 }, lane: 'other' }),
    ]
    const answer = (await ask(socket, { envelopes: batch })) as { results: Array<Record<string, unknown>> }
    expect(answer.results.map((r) => [r.emitId, r.ok, r.code])).toEqual([
      [batch[0]?.emitId, true, undefined],
      [batch[1]?.emitId, false, 'busy'],
      [batch[2]?.emitId, false, 'lane-blocked'],
      [batch[3]?.emitId, true, undefined],
    ])
    expect(calls.calls.map((e) => e.payload.n)).toEqual([1, 2, 4])
  })

  it('shares store, scope and fingerprint with the HTTP handler', async () => {
    const store = memoryStore()
    const apply = recorder()
    const shared = {
      store,
      fingerprint: (e: Envelope) => JSON.stringify([e.event, e.payload]),
      apply: (e: Envelope) => void apply.calls.push(e),
    }
    const http = createOutboxHandler<{ user: string }>({ ...shared, scope: (_request, locals) => locals.user })
    const { url } = await startServer({ ...shared, scope: (socket) => String(socket.handshake.auth.user) })
    await http(singleRequest(envelope(1)), { user: 'ada' })

    const ada = await connect(url, { user: 'ada' })
    await expect(ask(ada, envelope(1))).resolves.toEqual({ ok: true, emitId: envelope(1).emitId })
    expect(apply.count(envelope(1).emitId)).toBe(1) // replayed from the HTTP attempt
    await expect(ask(ada, envelope(1, { payload: { other: true } }))).resolves.toMatchObject({ code: 'key-reused' })

    const bob = await connect(url, { user: 'bob' })
    await ask(bob, envelope(1))
    expect(apply.count(envelope(1).emitId)).toBe(2) // another scope, another key
  })

  it('gives apply the socket, and aborts its signal when the socket disconnects', async () => {
    const held = deferred()
    const seen = deferred<{ id: string; batch: boolean; signal: AbortSignal }>()
    const { url } = await startServer({
      apply: async (_e, { socket, batch, signal }) => {
        seen.resolve({ id: socket.id, batch, signal })
        await held.promise
      },
    })
    const socket = await connect(url)
    void ask(socket, envelope(1)).catch(() => {})
    const context = await seen.promise
    expect(context.batch).toBe(false)
    expect(context.signal.aborted).toBe(false)
    const aborted = new Promise((resolve) => context.signal.addEventListener('abort', resolve))
    socket.disconnect()
    await aborted
    held.resolve()
  })

  it('answers a throw in apply as a retryable internal error and applies the retry', async () => {
    let attempt = 0
    const onError = vi.fn()
    const { url } = await startServer({
      apply: () => {
        if (++attempt === 1) throw new Error('database away')
        return { attempt }
      },
      onError,
    })
    const socket = await connect(url)
    await expect(ask(socket, envelope(1))).resolves.toMatchObject({ ok: false, code: 'internal', retryable: true })
    await expect(ask(socket, envelope(1))).resolves.toMatchObject({ ok: true, attempt: 2 })
    expect(onError).toHaveBeenCalledTimes(1)
  })

  it('applies a message sent without an ack callback, and answers its repeat', async () => {
    const { url, calls } = await startServer()
    const socket = await connect(url)
    socket.emit('outbox', envelope(1))
    await vi.waitFor(() => expect(calls.count(envelope(1).emitId)).toBe(1))
    await expect(ask(socket, envelope(1))).resolves.toMatchObject({ ok: true, emitId: envelope(1).emitId })
    expect(calls.count(envelope(1).emitId)).toBe(1)
  })
})

/** mulberry32: a replayable fault sequence per seed. */
function prng(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Fault = 'none' | 'cut-before' | 'cut-after' | 'drop-ack'
const FAULTS: Fault[] = ['cut-before', 'cut-after', 'drop-ack']

describe('@outbox/core socketTransport against createOutboxSocketHandler, with faults', () => {
  it.each([
    ['one envelope per emit', false, 21],
    ['batches', true, 22],
  ])(
    'applies 300 events over 6 lanes exactly once, in lane order (%s)',
    async (_name, batch, seed) => {
      const random = prng(seed)
      const faults = new Map<Fault, number>()
      const applied = new Map<string, number>()
      const laneLog = new Map<string, string[]>()
      const { url } = await startServer(
        {
          apply: (e, { socket }) => {
            applied.set(e.emitId, (applied.get(e.emitId) ?? 0) + 1)
            laneLog.set(e.lane, [...(laneLog.get(e.lane) ?? []), e.emitId])
            // Applied, then the connection goes before the ack can.
            if ((socket.data as { cutAfter?: boolean }).cutAfter) socket.conn.close()
          },
        },
        (socket, packet) => {
          if (packet[0] !== 'outbox') return true
          const fault = random() < 0.25 ? (FAULTS[Math.floor(random() * FAULTS.length)] as Fault) : 'none'
          faults.set(fault, (faults.get(fault) ?? 0) + 1)
          socket.data = { cutAfter: fault === 'cut-after' }
          if (fault === 'cut-before') {
            socket.conn.close()
            return false
          }
          if (fault === 'drop-ack') packet[packet.length - 1] = () => {} // applied, the ack is lost
          return true
        },
      )
      const socket = await connect(url)
      const outbox = createOutbox({
        transport: socketTransport(socket, { timeoutMs: 200, batch: batch && { maxItems: 8 } }),
        network: socketNetwork(socket),
        retry: { baseMs: 5, maxMs: 50 },
        breaker: { cooldownMs: 20 },
        random: prng(seed + 1),
      })
      cleanups.push(() => outbox.close())
      const ids = new Map<string, string[]>()
      for (let i = 0; i < 300; i++) {
        const lane = `chat-${i % 6}`
        ids.set(lane, [...(ids.get(lane) ?? []), outbox.emit('user:message', { chatId: lane, i }).emitId])
      }
      const all = [...ids.values()].flat()
      const acks = await Promise.all(all.map((id) => outbox.delivered(id)))
      expect(acks.map((a) => a.emitId)).toEqual(all)
      expect(applied.size).toBe(300)
      expect([...applied.values()].every((count) => count === 1)).toBe(true)
      for (const [lane, list] of ids) expect(laneLog.get(lane)).toEqual(list)
      expect(outbox.failed.value).toEqual([])
      for (const f of FAULTS) expect(faults.get(f) ?? 0).toBeGreaterThan(0)
    },
    60_000,
  )
})
