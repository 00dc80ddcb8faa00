import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Server, type Socket as ServerSocket } from 'socket.io'
import { io, type Socket } from 'socket.io-client'
import { afterEach, describe, expect, it } from 'vitest'
import { createOutbox } from '../src/outbox.ts'
import { socketNetwork } from '../src/socket-network.ts'
import { socketTransport } from '../src/socket-transport.ts'
import type { EmitEnvelope } from '../src/types.ts'
import { prng } from './fault-server.ts'
import { applyInLaneOrder, createLedger } from './ledger.ts'

let cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn()
  cleanup = []
})

type Fault = 'none' | 'cut-before' | 'cut-after' | 'drop-ack'
type Answer = (body: unknown, socket: ServerSocket) => unknown

/**
 * A Socket.IO server on 127.0.0.1 that applies each emitId once (the ledger) and answers its ack,
 * unless `fault` says to cut the connection before or after applying, or to drop the ack.
 */
async function startServer(options: { fault?: () => Fault; answer?: Answer } = {}) {
  const ledger = createLedger()
  const faults = new Map<Fault, number>()
  let received = 0
  const apply = (e: EmitEnvelope) => ledger.results.get(e.emitId) ?? ledger.record(e)
  const http = createServer()
  const server = new Server(http)
  server.on('connection', (socket) => {
    socket.on('outbox', (body: { envelopes?: EmitEnvelope[] } & EmitEnvelope, ack: (a: unknown) => void) => {
      received++
      if (options.answer) return ack(options.answer(body, socket))
      const fault = options.fault?.() ?? 'none'
      faults.set(fault, (faults.get(fault) ?? 0) + 1)
      if (fault === 'cut-before') return socket.conn.close()
      const answer = body.envelopes ? { results: applyInLaneOrder(body.envelopes, apply) } : apply(body)
      if (fault === 'cut-after') return socket.conn.close()
      if (fault === 'drop-ack') return
      ack(answer)
    })
    socket.on('ping', (ack: () => void) => ack())
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`
  cleanup.push(() => new Promise((resolve) => server.close(resolve)))
  return { ...ledger, faults, url, server, received: () => received }
}

function connect(url: string, autoConnect = true): Socket {
  const socket = io(url, {
    transports: ['websocket'],
    autoConnect,
    reconnectionDelay: 10,
    reconnectionDelayMax: 50,
    randomizationFactor: 0,
  })
  cleanup.push(() => socket.disconnect())
  return socket
}

const connected = (socket: Socket) =>
  socket.connected ? Promise.resolve() : new Promise<void>((resolve) => socket.once('connect', () => resolve()))

const envelope = (n: number, lane = 'c'): EmitEnvelope => ({
  emitId: `01HZY3NDEKTSV4RRFFQ69G${String(n).padStart(4, '0')}`,
  event: 'user:message',
  payload: { chatId: lane, n },
  lane,
  createdAt: 1_700_000_000_000 + n,
})
const signal = () => new AbortController().signal

describe('socketTransport against a real Socket.IO server', () => {
  it('resolves delivered() with the ack the server answered', async () => {
    const server = await startServer()
    const socket = connect(server.url)
    const outbox = createOutbox({ transport: socketTransport(socket), network: socketNetwork(socket) })
    cleanup.push(() => outbox.close())
    const e = outbox.emit('user:message', { chatId: 'c1', text: 'hi' })
    await expect(outbox.delivered(e.emitId)).resolves.toEqual({ ok: true, emitId: e.emitId, serverId: 's-1' })
    expect(server.laneLog.get('c1')).toEqual([e.emitId])
  })

  it('fails an item the server rejects, with its code and hint, and goes on with the lane', async () => {
    const server = await startServer({
      answer: (body) => {
        const e = body as EmitEnvelope
        return e.payload.n === 2
          ? { ok: false, emitId: e.emitId, code: 'forbidden', hint: 'Ask to be invited.' }
          : { ok: true, emitId: e.emitId }
      },
    })
    const socket = connect(server.url)
    const outbox = createOutbox({ transport: socketTransport(socket), network: socketNetwork(socket) })
    cleanup.push(() => outbox.close())
    outbox.emit('m', { chatId: 'c', n: 1 })
    const bad = outbox.emit('m', { chatId: 'c', n: 2 })
    const after = outbox.emit('m', { chatId: 'c', n: 3 })
    await outbox.delivered(after.emitId)
    expect(outbox.failed.value.map((f) => [f.emitId, f.error.kind, f.error.code, f.error.hint])).toEqual([
      [bad.emitId, 'rejected', 'forbidden', 'Ask to be invited.'],
    ])
  })

  it('fails at once, with a hint, when the server answers something that is not an ack', async () => {
    const server = await startServer({ answer: () => ({ id: 7, text: 'hi' }) })
    const socket = connect(server.url)
    await connected(socket)
    const [result] = await socketTransport(socket).send([envelope(1)], signal())
    expect(result).toMatchObject({ ok: false, error: { kind: 'invalid-ack', retryable: false } })
    expect(result?.ok === false && result.error.hint).toMatch(/'outbox'.*createOutboxSocketHandler/)
  })

  it('retries an ack in the outbox shape that names another event', async () => {
    const server = await startServer({ answer: () => ({ ok: true, emitId: envelope(9).emitId }) })
    const socket = connect(server.url)
    await connected(socket)
    const [result] = await socketTransport(socket).send([envelope(1)], signal())
    expect(result).toMatchObject({ ok: false, error: { kind: 'invalid-ack', retryable: true } })
  })

  it('answers a retryable network error when no ack comes within timeoutMs', async () => {
    const server = await startServer({ fault: () => 'drop-ack' })
    const socket = connect(server.url)
    await connected(socket)
    const [result] = await socketTransport(socket, { timeoutMs: 50 }).send([envelope(1)], signal())
    expect(result).toMatchObject({ ok: false, error: { kind: 'network', retryable: true } })
    expect(result?.ok === false && result.error.message).toMatch(/No ack for 'outbox' within 50 ms/)
    expect(server.applied.size).toBe(1)
  })

  it('fails at once while disconnected, and nothing it was given reaches the server later', async () => {
    const server = await startServer()
    const socket = connect(server.url, false)
    const [result] = await socketTransport(socket).send([envelope(1)], signal())
    expect(result).toMatchObject({ ok: false, error: { kind: 'network', retryable: true } })
    socket.connect()
    await connected(socket)
    await socket.emitWithAck('ping') // anything Socket.IO had buffered would have gone out first
    expect(server.received()).toBe(0)
  })

  it('answers a network error as soon as the connection drops mid-call', async () => {
    const server = await startServer({ fault: () => 'cut-after' })
    const socket = connect(server.url)
    await connected(socket)
    const [result] = await socketTransport(socket, { timeoutMs: 60_000 }).send([envelope(1)], signal())
    expect(result).toMatchObject({ ok: false, error: { kind: 'network', retryable: true } })
    expect(server.applied.get(envelope(1).emitId)).toBe(1)
  })

  it('rejects with the abort reason when the outbox aborts the call', async () => {
    const server = await startServer({ fault: () => 'drop-ack' })
    const socket = connect(server.url)
    await connected(socket)
    const controller = new AbortController()
    const sent = socketTransport(socket).send([envelope(1)], controller.signal)
    controller.abort(new Error('closed'))
    await expect(sent).rejects.toThrow('closed')
  })

  it('sends a batch as { envelopes } and reads { results }', async () => {
    const server = await startServer()
    const socket = connect(server.url)
    await connected(socket)
    const transport = socketTransport(socket, { batch: { maxItems: 3 } })
    expect(transport.maxBatch).toBe(3)
    const results = await transport.send([envelope(1), envelope(2, 'd')], signal())
    expect(results.map((r) => r.ok)).toEqual([true, true])
    expect(server.applied.size).toBe(2)
  })

  it('splits a batch too big for one message, and holds the rest of the lane behind a part that failed', async () => {
    const server = await startServer() // socket.io's default maxHttpBufferSize: 1 MB
    const socket = connect(server.url)
    await connected(socket)
    const big = (n: number) => ({ ...envelope(n), payload: { chatId: 'c', text: 'x'.repeat(250_000) } })
    const transport = socketTransport(socket, { batch: true })
    const results = await transport.send([1, 2, 3, 4, 5].map(big), signal())
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true])
    expect(server.received()).toBe(5) // 1.25 MB in one message would close the connection
    expect(server.laneLog.get('c')).toEqual([1, 2, 3, 4, 5].map((n) => envelope(n).emitId))

    const busy = await startServer({ answer: () => ({ ok: false, code: 'busy', retryable: true }) })
    const other = connect(busy.url)
    await connected(other)
    const held = await socketTransport(other, { batch: true }).send([1, 2, 3].map(big), signal())
    expect(held.map((r) => !r.ok && r.error.code)).toEqual(['busy', 'lane-blocked', 'lane-blocked'])
    expect(busy.received()).toBe(1)
  })

  it('refuses a reserved event name and a bad timeout at creation', () => {
    const socket = connect('http://127.0.0.1:1', false)
    expect(() => socketTransport(socket, { event: 'disconnect' })).toThrow(TypeError)
    expect(() => socketTransport(socket, { timeoutMs: 0 })).toThrow(TypeError)
  })
})

describe('socketNetwork', () => {
  it('follows connect and disconnect, and detaches its listeners when the last subscriber leaves', async () => {
    const server = await startServer()
    const socket = connect(server.url, false)
    const network = socketNetwork(socket)
    const seen: boolean[] = []
    const before = socket.listeners('connect').length
    const stop = network.subscribe((online) => seen.push(online))
    expect(network.online).toBe(false)
    socket.connect()
    await connected(socket)
    expect(network.online).toBe(true)
    socket.disconnect()
    expect(seen).toEqual([true, false])
    stop()
    expect(socket.listeners('connect').length).toBe(before)
  })

  it('sends nothing while disconnected and resumes every lane in order on reconnect', async () => {
    const server = await startServer()
    const socket = connect(server.url, false)
    const outbox = createOutbox({ transport: socketTransport(socket), network: socketNetwork(socket) })
    cleanup.push(() => outbox.close())
    const ids = new Map<string, string[]>()
    for (let i = 0; i < 30; i++) {
      const lane = `chat-${i % 3}`
      ids.set(lane, [...(ids.get(lane) ?? []), outbox.emit('m', { chatId: lane, i }).emitId])
    }
    await outbox.flush() // offline: settles at once without sending
    expect(outbox.online.value).toBe(false)
    expect(outbox.pending.value.every((item) => item.attempts === 0)).toBe(true)
    socket.connect()
    await Promise.all([...ids.values()].flat().map((id) => outbox.delivered(id)))
    expect(server.received()).toBe(30)
    for (const [lane, list] of ids) expect(server.laneLog.get(lane)).toEqual(list)
  })
})

describe('delivery over a socket that keeps dropping', () => {
  const FAULTS: Fault[] = ['cut-before', 'cut-after', 'drop-ack']

  it.each([
    ['one envelope per emit', false, 3],
    ['batches', true, 5],
  ])(
    'applies 300 events over 6 lanes exactly once, in lane order (%s)',
    async (_name, batch, seed) => {
      const random = prng(seed)
      const server = await startServer({
        fault: () => (random() < 0.25 ? (FAULTS[Math.floor(random() * FAULTS.length)] as Fault) : 'none'),
      })
      const socket = connect(server.url)
      const outbox = createOutbox({
        transport: socketTransport(socket, { timeoutMs: 200, batch: batch && { maxItems: 8 } }),
        network: socketNetwork(socket),
        retry: { baseMs: 5, maxMs: 50 },
        breaker: { cooldownMs: 20 },
        random: prng(seed + 1),
      })
      cleanup.push(() => outbox.close())
      const ids = new Map<string, string[]>()
      for (let i = 0; i < 300; i++) {
        const lane = `chat-${i % 6}`
        ids.set(lane, [...(ids.get(lane) ?? []), outbox.emit('m', { chatId: lane, i }).emitId])
      }
      const all = [...ids.values()].flat()
      const acks = await Promise.all(all.map((id) => outbox.delivered(id)))
      expect(acks.map((a) => a.emitId)).toEqual(all)
      expect(server.applied.size).toBe(300)
      expect([...server.applied.values()].every((count) => count === 1)).toBe(true)
      for (const [lane, list] of ids) expect(server.laneLog.get(lane)).toEqual(list)
      expect(outbox.failed.value).toEqual([])
      for (const f of FAULTS) expect(server.faults.get(f) ?? 0).toBeGreaterThan(0)
    },
    60_000,
  )
})
