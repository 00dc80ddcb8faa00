/**
 * Bad input from every side: random and malformed payloads given to `emit`, corrupted or foreign
 * records in IndexedDB, and malformed answers from a real HTTP server. Each must end in a typed
 * error, a retry or a reported failure: never a crash, a hang, or an item silently gone.
 */
import 'fake-indexeddb/auto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import fc from 'fast-check'
import { createStore, setMany } from 'idb-keyval'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createOutbox,
  type DeliveryError,
  DeliveryFailedError,
  type EmitEnvelope,
  httpTransport,
  InvalidEmitError,
  MAX_ENVELOPE_BYTES,
  type Outbox,
  OutboxError,
} from '../src/index.ts'
import { RECORD_VERSION } from '../src/record.ts'
import { createIdFactory } from '../src/ulid.ts'
import { fakeClock, fakeTransport, listenLocal, manualNetwork, setup, tick, uniqueKey } from './helpers.ts'

const open: Outbox[] = []
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const o of open.splice(0)) await o.close()
  for (const fn of cleanups.splice(0)) await fn()
})

/** Lets I/O and promise callbacks run until `condition` holds; fails (as a hang) after `ms` of real time. */
async function until(condition: () => boolean, what: string, ms = 5_000) {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`hang: ${what} did not happen within ${ms} ms`)
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

// ---------------------------------------------------------------------------------------------
describe('emit with random and malformed payloads', () => {
  /** Everything fast-check can make: boxed values, Maps, Sets, Dates, BigInts, typed and sparse arrays… */
  const anything = fc.anything({
    withBigInt: true,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withObjectString: true,
    withNullPrototype: true,
    withTypedArray: true,
    withSparseArray: true,
    stringUnit: 'binary',
    maxDepth: 4,
  })

  /** Either a typed refusal that queued nothing, or exactly a JSON-equal copy queued. */
  function emitsFaithfully(outbox: Outbox, payload: unknown) {
    const before = outbox.size.peek()
    let envelope: EmitEnvelope
    try {
      envelope = outbox.emit('user:message', payload as Record<string, unknown>)
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidEmitError)
      expect(outbox.size.peek()).toBe(before)
      return 'refused' as const
    }
    const item = outbox.pending.peek().find((i) => i.emitId === envelope.emitId)
    expect(item).toBeDefined()
    const json = JSON.parse(JSON.stringify(payload))
    expect(item?.payload).toEqual(json)
    expect(envelope.payload).toEqual(json)
    expect(JSON.stringify(item?.payload)).toBe(JSON.stringify(payload))
    // A copy: the caller's object is not what is queued.
    expect(item?.payload).not.toBe(payload)
    expect(outbox.size.peek()).toBe(before + 1)
    return 'queued' as const
  }

  it('anything as the payload: InvalidEmitError and nothing queued, or a JSON-equal copy queued', () => {
    const { outbox } = setup({ maxSize: 100_000 })
    open.push(outbox)
    outbox.pause()
    const outcomes = { refused: 0, queued: 0 }
    fc.assert(
      fc.property(fc.oneof(anything, fc.dictionary(fc.string(), anything)), (payload) => {
        outcomes[emitsFaithfully(outbox, payload)]++
      }),
      { numRuns: 1_000 },
    )
    // Both branches were exercised.
    expect(outcomes.refused).toBeGreaterThan(50)
    expect(outcomes.queued).toBeGreaterThan(50)
  })

  it('JSON-only payloads (objects of JSON values) are always queued as equal copies', () => {
    const { outbox } = setup({ maxSize: 100_000 })
    open.push(outbox)
    outbox.pause()
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (payload) => {
        expect(emitsFaithfully(outbox, payload)).toBe('queued')
      }),
      { numRuns: 500 },
    )
  })

  const Klass = class Point {
    x = 1
  }
  const cycle: Record<string, unknown> = { a: 1 }
  cycle.self = cycle
  const deepCycle: Record<string, unknown> = { list: [{}] }
  ;(deepCycle.list as Array<Record<string, unknown>>)[0] = { back: deepCycle }
  const sparse: unknown[] = [1]
  sparse[3] = 4
  const nullProto = Object.assign(Object.create(null), { chatId: 'c', text: 'ok' })

  it.each<[string, unknown]>([
    ['a function', { f: () => 1 }],
    ['a BigInt', { n: 10n }],
    ['a symbol value', { s: Symbol('x') }],
    ['a cycle', cycle],
    ['a cycle through an array', deepCycle],
    ['a Date', { at: new Date(0) }],
    ['a Map', { m: new Map([[1, 2]]) }],
    ['a Set', { s: new Set([1]) }],
    ['a class instance', { p: new Klass() }],
    ['a typed array', { bytes: new Uint8Array(2) }],
    ['a boxed string', { s: new String('x') }],
    ['NaN', { n: Number.NaN }],
    ['-Infinity', { n: Number.NEGATIVE_INFINITY }],
    ['a sparse array', { list: sparse }],
    ['undefined in an array', { list: [1, undefined] }],
    ['a RegExp', { r: /x/ }],
    ['an Error', { e: new Error('x') }],
    ['a Promise', { p: Promise.resolve() }],
    ['a nested function deep inside', { a: [{ b: { c: [1, 2, { d: () => 0 }] } }] }],
    ['null', null],
    ['an array', [1, 2]],
    ['a string', 'text'],
    ['a number', 42],
    ['undefined', undefined],
    ['a Date as the payload', new Date()],
    ['a Map as the payload', new Map()],
  ])('refuses %s with InvalidEmitError and queues nothing', (_name, payload) => {
    const { outbox } = setup()
    open.push(outbox)
    expect(() => outbox.emit('user:message', payload as Record<string, unknown>)).toThrow(InvalidEmitError)
    expect(outbox.size.value).toBe(0)
  })

  it('accepts what JSON carries faithfully: null prototypes, undefined members, symbol keys, unicode', () => {
    const { outbox } = setup()
    open.push(outbox)
    outbox.pause()
    const proto = JSON.parse('{"__proto__": {"polluted": true}, "chatId": "c"}')
    for (const payload of [
      nullProto,
      { chatId: 'c', gone: undefined },
      { chatId: 'c', [Symbol('hidden')]: 1 },
      { text: '\u{1F600} \u0000 \ud800 lone surrogate', n: -0, big: Number.MAX_VALUE },
      proto,
      { nested: { deep: [[[[[]]]]], empty: {} } },
    ])
      expect(emitsFaithfully(outbox, payload)).toBe('queued')
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('the size limit: at most MAX_ENVELOPE_BYTES serialized, counted in UTF-8 bytes', () => {
    const { outbox } = setup({ maxSize: 100_000 })
    open.push(outbox)
    outbox.pause()
    fc.assert(
      fc.property(
        fc.integer({ min: MAX_ENVELOPE_BYTES - 400, max: MAX_ENVELOPE_BYTES + 400 }),
        fc.constantFrom('a', 'é', '€', '\u{1F600}'),
        (bytes, char) => {
          const unit = new TextEncoder().encode(char).length
          const payload = { chatId: 'c', text: char.repeat(Math.floor((bytes - 120) / unit)) }
          const before = outbox.size.peek()
          let envelope: EmitEnvelope | undefined
          try {
            envelope = outbox.emit('user:message', payload)
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidEmitError)
          }
          const size = new TextEncoder().encode(
            JSON.stringify(
              envelope ?? { emitId: 'x'.repeat(26), event: 'user:message', payload, lane: 'c', createdAt: 1 },
            ),
          ).length
          if (envelope) expect(size).toBeLessThanOrEqual(MAX_ENVELOPE_BYTES)
          else {
            expect(size).toBeGreaterThan(MAX_ENVELOPE_BYTES - 40) // refused only near or over the limit
            expect(outbox.size.peek()).toBe(before)
          }
        },
      ),
      { numRuns: 60 },
    )
  })

  it.each<[string, unknown, unknown]>([
    ['an empty event name', '', undefined],
    ['a non-string event name', 42, undefined],
    ['a missing event name', undefined, undefined],
    ['a numeric messageId key', 'user:message', { keys: { messageId: 5 } }],
    ['an object requestId key', 'user:message', { keys: { requestId: {} } }],
    ['an empty lane', 'user:message', { lane: '' }],
    ['a numeric lane', 'user:message', { lane: 7 }],
    ['a NaN ttlMs', 'user:message', { ttlMs: Number.NaN }],
    ['a negative ttlMs', 'user:message', { ttlMs: -1 }],
    ['a non-string coalesceKey', 'user:message', { coalesceKey: 3 }],
  ])('refuses %s with InvalidEmitError and queues nothing', (_name, event, options) => {
    const { outbox } = setup()
    open.push(outbox)
    expect(() => outbox.emit(event as string, { chatId: 'c' }, options as never)).toThrow(InvalidEmitError)
    expect(outbox.size.value).toBe(0)
  })

  it('a lane function that returns junk is refused; payload ids of odd types fall back sanely', () => {
    const { outbox } = setup({ lane: () => undefined as unknown as string })
    open.push(outbox)
    expect(() => outbox.emit('user:message', { chatId: 'c' })).toThrow(InvalidEmitError)
    expect(outbox.size.value).toBe(0)
    const { outbox: other } = setup()
    open.push(other)
    other.pause()
    const e = other.emit('user:message', { chatId: { nested: true }, messageId: ['x'], requestId: 12 })
    expect(e.lane).toBe('default')
    expect(e.keys).toEqual({ requestId: '12' })
  })

  it('mutating the payload after emit changes nothing queued', () => {
    const { outbox } = setup()
    open.push(outbox)
    outbox.pause()
    const payload = { chatId: 'c', list: [1, 2], inner: { text: 'a' } }
    const e = outbox.emit('user:message', payload)
    payload.list.push(3)
    payload.inner.text = 'changed'
    expect(outbox.pending.value[0]?.payload).toEqual({ chatId: 'c', list: [1, 2], inner: { text: 'a' } })
    expect(e.payload).toEqual({ chatId: 'c', list: [1, 2], inner: { text: 'a' } })
  })
})

// ---------------------------------------------------------------------------------------------
describe('corrupted or foreign IndexedDB records', () => {
  const nextId = createIdFactory()

  const validRecord = (emitId: string, seq: number, status: 'queued' | 'sending' | 'waiting' | 'failed' = 'queued') => {
    const item: Record<string, unknown> = {
      emitId,
      event: 'user:message',
      payload: { chatId: 'c', seq },
      lane: 'c',
      createdAt: 1_700_000_000_000 + seq,
      status,
      attempts: status === 'queued' ? 0 : 1,
    }
    if (status === 'failed') item.error = { kind: 'rejected', code: 'no', message: 'no', retryable: false }
    if (status === 'waiting') {
      item.nextAttemptAt = 1_700_000_100_000
      item.lastError = { kind: 'http', code: 500, message: 'HTTP 500', retryable: true }
    }
    return { v: RECORD_VERSION, item, ageFrom: item.createdAt }
  }

  /** A valid record with one thing broken, each a reason `checkRecord` must catch. */
  const breakages: Array<[string, (r: ReturnType<typeof validRecord>, key: string) => unknown]> = [
    ['no version', (r) => ({ ...r, v: undefined })],
    ['a future version', (r) => ({ ...r, v: RECORD_VERSION + 1 })],
    ['no item', (r) => ({ v: r.v })],
    ['an item that is an array', (r) => ({ ...r, item: [r.item] })],
    ['another emitId than its key', (r) => ({ ...r, item: { ...r.item, emitId: nextId(1) } })],
    ['a lower-case emitId', (r, key) => ({ ...r, item: { ...r.item, emitId: key.toLowerCase() } })],
    ['an empty event', (r) => ({ ...r, item: { ...r.item, event: '' } })],
    ['a payload that is an array', (r) => ({ ...r, item: { ...r.item, payload: [1] } })],
    ['a null payload', (r) => ({ ...r, item: { ...r.item, payload: null } })],
    ['a numeric lane', (r) => ({ ...r, item: { ...r.item, lane: 5 } })],
    ['a string createdAt', (r) => ({ ...r, item: { ...r.item, createdAt: 'yesterday' } })],
    ['an infinite createdAt', (r) => ({ ...r, item: { ...r.item, createdAt: Number.POSITIVE_INFINITY } })],
    ['negative attempts', (r) => ({ ...r, item: { ...r.item, attempts: -1 } })],
    ['fractional attempts', (r) => ({ ...r, item: { ...r.item, attempts: 1.5 } })],
    ['an unknown status', (r) => ({ ...r, item: { ...r.item, status: 'delivered' } })],
    ['a failed item without an error', (r) => ({ ...r, item: { ...r.item, status: 'failed' } })],
    [
      'a failed item with an unknown error kind',
      (r) => ({ ...r, item: { ...r.item, status: 'failed', error: { kind: 'cosmic', message: 'x', retryable: 0 } } }),
    ],
    ['keys of the wrong type', (r) => ({ ...r, item: { ...r.item, keys: { messageId: 7 } } })],
    ['a lastError that is a string', (r) => ({ ...r, item: { ...r.item, lastError: 'boom' } })],
    ['a NaN nextAttemptAt', (r) => ({ ...r, item: { ...r.item, nextAttemptAt: Number.NaN } })],
    ['a string ttlMs', (r) => ({ ...r, ttlMs: '5s' })],
    ['a numeric coalesceKey', (r) => ({ ...r, coalesceKey: 1 })],
  ]

  /** Junk that is not even shaped like a record, under keys of every IndexedDB key type. */
  const junkValue = fc.anything({
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withTypedArray: true,
  })
  const junkKey = fc.oneof(
    fc.string({ minLength: 1 }),
    fc.integer(),
    fc.double({ noNaN: true }),
    fc.constant('01ARZ3NDEKTSV4RRFFQ69G5FAV'),
    fc.array(fc.string(), { minLength: 1, maxLength: 3 }),
  )

  type Seed = { junk: Array<[IDBValidKey, unknown]>; broken: number[]; valid: number; failed: number }

  async function loadWith(seed: Seed) {
    const key = uniqueKey('bad')
    const store = createStore(`outbox:${key}`, 'items')
    const validIds: string[] = []
    const failedIds: string[] = []
    const entries: Array<[IDBValidKey, unknown]> = []
    for (let i = 0; i < seed.valid; i++) {
      const id = nextId(1_700_000_000_000 + i)
      validIds.push(id)
      entries.push([id, validRecord(id, i, (['queued', 'sending', 'waiting'] as const)[i % 3])])
    }
    for (let i = 0; i < seed.failed; i++) {
      const id = nextId(1_700_000_000_500 + i)
      failedIds.push(id)
      entries.push([id, validRecord(id, 100 + i, 'failed')])
    }
    const badKeys = new Set<string>()
    seed.broken.forEach((b, i) => {
      const id = nextId(1_700_000_001_000 + i)
      const [, breakIt] = breakages[b % breakages.length] as (typeof breakages)[number]
      entries.push([id, breakIt(validRecord(id, 200 + i), id)])
      badKeys.add(id)
    })
    for (const [k, v] of seed.junk) {
      if (typeof k === 'string' && (validIds.includes(k) || failedIds.includes(k) || badKeys.has(k))) continue
      entries.push([k, v])
      badKeys.add(String(k))
    }
    await setMany(entries, store)

    const clock = fakeClock()
    const transport = fakeTransport()
    const errors: DeliveryError[] = []
    const outbox = createOutbox({ transport, mode: 'persistent', persistenceKey: key, clock, network: manualNetwork() })
    open.push(outbox)
    outbox.on('outbox:error', ({ error }) => errors.push(error))
    await outbox.ready
    await clock.advance(2_100) // leadership through BroadcastChannel heartbeats
    await until(() => transport.sent().length >= validIds.length && outbox.size.peek() === 0, 'delivery of the valid')
    return { outbox, transport, errors, validIds, failedIds, badKeys }
  }

  it('junk and broken records are skipped and reported once each; valid ones load and deliver in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          junk: fc.uniqueArray(fc.tuple(junkKey, junkValue), {
            maxLength: 6,
            selector: ([k]) => JSON.stringify(k),
          }),
          broken: fc.array(fc.nat(breakages.length - 1), { maxLength: 6 }),
          valid: fc.integer({ min: 0, max: 5 }),
          failed: fc.integer({ min: 0, max: 2 }),
        }),
        async (seed) => {
          const { outbox, transport, errors, validIds, failedIds, badKeys } = await loadWith(seed)
          expect(transport.sent()).toEqual(validIds)
          expect(outbox.failed.peek().map((f) => f.emitId)).toEqual(failedIds)
          const reported = errors.filter((e) => e.kind === 'storage' && e.code === 'invalid-record')
          expect(reported).toHaveLength(badKeys.size)
          for (const e of reported) expect(e.retryable).toBe(false)
          await outbox.close()
        },
      ),
      { numRuns: 25 },
    )
  }, 60_000)

  it.each(breakages.map(([name]) => [name]))('a record with %s is skipped with a reason', async (name) => {
    const index = breakages.findIndex(([n]) => n === name)
    const { errors, transport, validIds } = await loadWith({ junk: [], broken: [index], valid: 2, failed: 0 })
    expect(transport.sent()).toEqual(validIds)
    expect(errors).toEqual([expect.objectContaining({ kind: 'storage', code: 'invalid-record' })])
    expect(errors[0]?.message).toMatch(/^Skipped stored record /)
  })

  it('a foreign database of the same name without the items store: works in memory and reports storage', async () => {
    const key = uniqueKey('bad')
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.open(`outbox:${key}`, 1)
      request.onupgradeneeded = () => request.result.createObjectStore('something-else')
      request.onsuccess = () => {
        request.result.close()
        resolve()
      }
      request.onerror = () => reject(request.error)
    })
    const clock = fakeClock()
    const transport = fakeTransport()
    const errors: DeliveryError[] = []
    const outbox = createOutbox({ transport, mode: 'persistent', persistenceKey: key, clock, network: manualNetwork() })
    open.push(outbox)
    outbox.on('outbox:error', ({ error }) => errors.push(error))
    await outbox.ready
    await clock.advance(2_100)
    const e = outbox.emit('user:message', { chatId: 'c', text: 'still delivered' })
    await until(() => transport.sent().includes(e.emitId), 'delivery without storage')
    await expect(outbox.delivered(e.emitId)).resolves.toMatchObject({ ok: true, emitId: e.emitId })
    await until(() => errors.length > 0, 'a storage error report')
    expect(errors.every((x) => x.kind === 'storage')).toBe(true)
    // close() waits for the persister's next (failing) attempt, which runs on the outbox's clock.
    open.splice(open.indexOf(outbox), 1)
    const closing = outbox.close()
    await clock.advance(5_000)
    await closing
  })
})

// ---------------------------------------------------------------------------------------------
describe('malformed server answers through httpTransport (real node:http on 127.0.0.1)', () => {
  type Respond = (
    res: ServerResponse,
    body: { emitId?: string; envelopes?: EmitEnvelope[] },
    req: IncomingMessage,
  ) => void

  const ackOf = (e: { emitId?: string }) => ({ ok: true, emitId: e.emitId, serverId: 's' })
  const valid: Respond = (res, body) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body.envelopes ? { results: body.envelopes.map(ackOf) } : ackOf(body)))
  }

  /** A server that answers the first requests with `script`, then with valid acks. */
  async function scripted(script: Respond[]) {
    const seen: string[][] = []
    const server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        if (req.method !== 'POST') {
          res.writeHead(200, { 'content-type': 'text/html' })
          return res.end('<html>a page, not an ack</html>')
        }
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
        seen.push(body.envelopes ? body.envelopes.map((e: EmitEnvelope) => e.emitId) : [body.emitId])
        ;(script.shift() ?? valid)(res, body, req)
      })
    })
    const { origin, close } = await listenLocal(server)
    cleanups.push(close)
    return { url: `${origin}/events`, seen }
  }
  /** An outbox over httpTransport against a scripted server, on a fake clock, retries 100 ms apart. */
  function httpOutbox(transport: Parameters<typeof httpTransport>[0]) {
    const clock = fakeClock()
    const outbox = createOutbox({
      transport: httpTransport(transport),
      clock,
      network: manualNetwork(),
      retry: { jitter: false, baseMs: 100 },
    })
    open.push(outbox)
    return { outbox, clock }
  }

  const json =
    (status: number, value: unknown, headers: Record<string, string> = {}): Respond =>
    (res) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers })
      res.end(typeof value === 'string' ? value : JSON.stringify(value))
    }
  const raw =
    (status: number, text: string | Buffer, headers: Record<string, string> = {}): Respond =>
    (res) => {
      res.writeHead(status, headers)
      res.end(text)
    }

  type Outcome = 'retry' | 'fail' | 'ack'
  /** A valid but unusually large ack may be read, or refused unread as no ack (and retried). */
  type SingleOutcome = Outcome | 'ack-or-retry'

  /** Single mode: the first answer is `respond`; the item must end as `outcome` with a typed error. */
  const singles: Array<[string, Respond, SingleOutcome, DeliveryError['kind'][]]> = [
    ['truncated JSON', json(200, '{"ok":true,"emitId":"'), 'retry', ['invalid-ack']],
    [
      'a body shorter than its content-length, then a closed connection',
      (res, body) => {
        const text = JSON.stringify(ackOf(body))
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(text.length + 50) })
        res.write(text)
        setImmediate(() => res.destroy())
      },
      'retry',
      ['invalid-ack', 'network'],
    ],
    [
      'an ack naming another emitId',
      json(200, { ok: true, emitId: '01ARZ3NDEKTSV4RRFFQ69G5FAV' }),
      'retry',
      ['invalid-ack'],
    ],
    ['an ack without emitId', json(200, { ok: true }), 'retry', ['invalid-ack']],
    [
      'ok as a string',
      (res, body) => json(200, { ok: 'true', emitId: body.emitId })(res, body, {} as IncomingMessage),
      'fail',
      ['invalid-ack'],
    ],
    // JSON without the outbox's shape (no boolean ok): another protocol, which no retry fixes.
    ['JSON null', json(200, 'null'), 'fail', ['invalid-ack']],
    ['a JSON array', json(200, [{ ok: true }]), 'fail', ['invalid-ack']],
    ['a JSON string', json(200, '"ok"'), 'fail', ['invalid-ack']],
    ['a JSON number', json(200, '1'), 'fail', ['invalid-ack']],
    ['a REST answer (201 { id, text })', json(201, { id: 'm-1', text: 'hi' }), 'fail', ['invalid-ack']],
    [
      'trailing garbage after the ack',
      (res, body) => json(200, `${JSON.stringify(ackOf(body))}}}`)(res, body, {} as IncomingMessage),
      'retry',
      ['invalid-ack'],
    ],
    [
      'a valid ack as text/plain',
      (res, body) =>
        raw(200, JSON.stringify(ackOf(body)), { 'content-type': 'text/plain' })(res, body, {} as IncomingMessage),
      'retry',
      ['invalid-ack'],
    ],
    [
      'no content type at all',
      (res, body) => raw(200, JSON.stringify(ackOf(body)))(res, body, {} as IncomingMessage),
      'retry',
      ['invalid-ack'],
    ],
    ['204 with no body', raw(204, ''), 'retry', ['invalid-ack']],
    [
      'a captive portal page',
      raw(200, '<html>Sign in</html>', { 'content-type': 'text/html' }),
      'retry',
      ['invalid-ack'],
    ],
    [
      'invalid UTF-8 as JSON',
      raw(200, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { 'content-type': 'application/json' }),
      'retry',
      ['invalid-ack'],
    ],
    [
      'a huge HTML body (8 MiB)',
      raw(200, `<html>${'x'.repeat(8 * 1024 * 1024)}</html>`, { 'content-type': 'text/html' }),
      'retry',
      ['invalid-ack'],
    ],
    ['a huge JSON array (8 MiB)', json(200, `[${'0,'.repeat(4 * 1024 * 1024)}0]`), 'retry', ['invalid-ack']],
    ['JSON nested 100 000 deep', json(200, `${'['.repeat(100_000)}${']'.repeat(100_000)}`), 'fail', ['invalid-ack']],
    ['a rejection without a code', json(200, { ok: false }), 'retry', ['invalid-ack']],
    ['a rejection with an object code', json(200, { ok: false, code: {} }), 'retry', ['invalid-ack']],
    ['a retryable rejection', json(200, { ok: false, code: 'busy', retryable: true }), 'retry', ['rejected']],
    [
      'a rejection for another emitId',
      json(200, { ok: false, code: 'no', emitId: '01ARZ3NDEKTSV4RRFFQ69G5FAV' }),
      'retry',
      ['invalid-ack'],
    ],
    ['500 with an HTML page', raw(500, '<html>oops</html>', { 'content-type': 'text/html' }), 'retry', ['http']],
    ['599', raw(599, ''), 'retry', ['http']],
    ['429 with a Retry-After that is not a number', json(429, {}, { 'retry-after': 'soon' }), 'retry', ['http']],
    [
      '503 with a Retry-After date in the past',
      json(503, {}, { 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' }),
      'retry',
      ['http'],
    ],
    [
      'a redirect to a page',
      (res) => {
        res.writeHead(302, { location: '/elsewhere' })
        res.end()
      },
      'retry',
      ['invalid-ack', 'http'],
    ],
    ['a reset connection', (res) => res.socket?.destroy(), 'retry', ['network']],
    // Answers that settle the item for good, as typed, reported failures.
    ['a hard rejection', json(200, { ok: false, code: 'forbidden', hint: 'Ask an admin.' }), 'fail', ['rejected']],
    ['422 key reused', json(422, { ok: false, code: 'key-reused', message: 'other payload' }), 'fail', ['http']],
    ['400 with an HTML body', raw(400, '<html>bad</html>', { 'content-type': 'text/html' }), 'fail', ['http']],
    // A well-formed ack in an unusual dress is still an ack.
    [
      'a huge but valid ack (4 MiB of extra ids)',
      (res, body) => json(200, { ...ackOf(body), pad: 'x'.repeat(4 * 1024 * 1024) })(res, body, {} as IncomingMessage),
      'ack-or-retry',
      ['invalid-ack'],
    ],
    [
      'a valid ack as application/problem+json; charset',
      (res, body) =>
        raw(200, JSON.stringify(ackOf(body)), { 'content-type': 'application/vnd.api+json; charset=utf-8' })(
          res,
          body,
          {} as IncomingMessage,
        ),
      'ack',
      [],
    ],
  ]

  const singleCases = singles.map(([name, respond, outcome, kinds]) => ({ name, respond, outcome, kinds }))
  it.each(singleCases)(
    'single: $name → $outcome',
    async ({ respond, outcome, kinds }) => {
      const server = await scripted([respond])
      const { outbox, clock } = httpOutbox({ url: server.url, timeoutMs: 5_000 })
      const failures: DeliveryError[] = []
      outbox.on('outbox:failed', ({ error }) => failures.push(error))
      const e = outbox.emit('user:message', { chatId: 'c', text: 'hi' })
      const settled = () => {
        const item = outbox.pending.peek()[0]
        return server.seen.length > 0 && (!item || item.status === 'waiting')
      }
      await until(settled, 'the first answer to settle the item', 15_000)
      if (outcome === 'fail') {
        expect(outbox.size.peek()).toBe(0)
        const failed = outbox.failed.peek()
        expect(failed.map((f) => f.emitId)).toEqual([e.emitId])
        expect(kinds).toContain(failed[0]?.error.kind)
        expect(failed[0]?.error.retryable).toBe(false)
        expect(failures).toHaveLength(1)
        await expect(outbox.delivered(e.emitId)).rejects.toBeInstanceOf(DeliveryFailedError)
        return
      }
      expect(outbox.failed.peek()).toEqual([])
      const item = outbox.pending.peek()[0]
      if (!item) {
        // Acked: by the first answer, or (a zero Retry-After sends again at once) by the second.
        await expect(outbox.delivered(e.emitId)).resolves.toMatchObject({ ok: true, emitId: e.emitId })
        const sends = server.seen.flat().filter((id) => id === e.emitId).length
        expect(outcome === 'retry' ? sends === 2 : sends === 1).toBe(true)
        return
      }
      // Retried: still pending, waiting, with a typed error; never taken as delivered.
      expect(outcome).not.toBe('ack')
      expect(item?.emitId).toBe(e.emitId)
      expect(item?.status).toBe('waiting')
      expect(kinds).toContain(item?.lastError?.kind)
      expect(outbox.failed.peek()).toEqual([])
      // The next attempt (same emitId) gets a valid ack.
      await clock.advance(2_000)
      await until(() => outbox.size.peek() === 0, 'the retry to be acked', 15_000)
      await expect(outbox.delivered(e.emitId)).resolves.toMatchObject({ ok: true, emitId: e.emitId })
      expect(server.seen.flat().filter((id) => id === e.emitId).length).toBeGreaterThanOrEqual(2)
    },
    30_000,
  )

  it('single: no answer at all ends in a timeout, then a retry', async () => {
    const server = await scripted([() => {}])
    const { outbox, clock } = httpOutbox({ url: server.url, timeoutMs: 150 })
    const e = outbox.emit('user:message', { chatId: 'c' })
    await until(() => outbox.pending.peek()[0]?.status === 'waiting', 'the timeout', 10_000)
    expect(outbox.pending.peek()[0]?.lastError).toMatchObject({ kind: 'network', retryable: true })
    await clock.advance(1_000)
    await until(() => outbox.size.peek() === 0, 'the retry to be acked')
    await expect(outbox.delivered(e.emitId)).resolves.toMatchObject({ emitId: e.emitId })
  })

  /** Batch mode: three items of one lane in one request; each item ends acked, retried or failed. */
  const batches: Array<[string, (ids: string[]) => unknown, Array<Outcome>]> = [
    ['results: null', () => ({ results: null }), ['retry', 'retry', 'retry']],
    ['no results member', () => ({ ok: true }), ['retry', 'retry', 'retry']],
    ['results as a string', () => ({ results: 'ok' }), ['retry', 'retry', 'retry']],
    ['JSON null (not the outbox’s shape)', () => null, ['fail', 'fail', 'fail']],
    [
      'a JSON array (not the outbox’s shape)',
      (ids) => ids.map((id) => ackOf({ emitId: id })),
      ['fail', 'fail', 'fail'],
    ],
    ['fewer results than envelopes', (ids) => ({ results: [ackOf({ emitId: ids[0] })] }), ['ack', 'retry', 'retry']],
    [
      'more results than envelopes, with foreign ids',
      (ids) => ({
        results: [...ids.map((id) => ackOf({ emitId: id })), ackOf({ emitId: '01ARZ3NDEKTSV4RRFFQ69G5FAV' })],
      }),
      ['ack', 'ack', 'ack'],
    ],
    [
      'results in reverse order',
      (ids) => ({ results: [...ids].reverse().map((id) => ackOf({ emitId: id })) }),
      ['ack', 'ack', 'ack'],
    ],
    [
      'acks without emitIds (same length)',
      (ids) => ({ results: ids.map(() => ({ ok: true })) }),
      ['retry', 'retry', 'retry'],
    ],
    [
      'rejections without emitIds, matched by position',
      (ids) => ({
        results: [ackOf({ emitId: ids[0] }), { ok: false, code: 'no' }, { ok: false, code: 'busy', retryable: true }],
      }),
      ['ack', 'fail', 'retry'],
    ],
    [
      'one emitId answered twice, first answer wins',
      (ids) => ({
        results: [ackOf({ emitId: ids[0] }), { ok: false, code: 'no', emitId: ids[0] }, ackOf({ emitId: ids[2] })],
      }),
      ['ack', 'retry', 'ack'],
    ],
    ['results of junk', () => ({ results: [null, 1, 'x', [], {}] }), ['retry', 'retry', 'retry']],
    ['an empty results list', () => ({ results: [] }), ['retry', 'retry', 'retry']],
  ]

  const batchCases = batches.map(([name, answer, outcomes]) => ({ name, answer, outcomes }))
  it.each(batchCases)('batch: $name', async ({ answer, outcomes }) => {
    const server = await scripted([
      (res, body) => json(200, answer((body.envelopes ?? []).map((e) => e.emitId)))(res, body, {} as IncomingMessage),
    ])
    const { outbox, clock } = httpOutbox({ url: server.url, batch: true })
    const acked = new Set<string>()
    outbox.on('outbox:acked', ({ envelope }) => acked.add(envelope.emitId))
    const ids = [1, 2, 3].map((i) => outbox.emit('user:message', { chatId: 'c', n: i }).emitId)
    await until(
      () => server.seen.length >= 1 && outbox.pending.peek().every((i) => i.status !== 'sending'),
      'the batch answer',
    )
    const pending = new Map(outbox.pending.peek().map((i) => [i.emitId, i]))
    const failed = new Map(outbox.failed.peek().map((f) => [f.emitId, f]))
    ids.forEach((id, i) => {
      const expected = outcomes[i]
      // Exactly one place for every item: nothing silently gone.
      expect([acked.has(id), pending.has(id), failed.has(id)].filter(Boolean)).toHaveLength(1)
      if (expected === 'ack') expect(acked.has(id)).toBe(true)
      if (expected === 'fail') {
        expect(failed.get(id)?.error.retryable).toBe(false)
        expect(['rejected', 'invalid-ack']).toContain(failed.get(id)?.error.kind)
      }
      if (expected === 'retry') {
        expect(pending.get(id)?.status).toBe('waiting')
        expect(['invalid-ack', 'rejected']).toContain(pending.get(id)?.lastError?.kind)
      }
    })
    // The retries go out with the same emitIds and are acked; lane order holds throughout.
    await clock.advance(2_000)
    await until(() => outbox.size.peek() === 0, 'the retries to be acked')
    for (const [i, id] of ids.entries()) if (outcomes[i] !== 'fail') expect(acked.has(id)).toBe(true)
    const firstSends = server.seen.flat().filter((id, i, all) => all.indexOf(id) === i)
    expect(firstSends).toEqual(ids)
  })

  it('a transport returning garbage directly is an invalid ack, never a crash', async () => {
    const replies: unknown[] = [
      undefined,
      null,
      'ok',
      42,
      {},
      [undefined],
      [{ emitId: 1, ok: true }],
      [{ ok: true, ack: {} }],
    ]
    for (const reply of replies) {
      const { outbox, clock } = setup(
        {},
        fakeTransport(() => reply as never),
      )
      open.push(outbox)
      const e = outbox.emit('user:message', { chatId: 'c' })
      await clock.advance(0)
      const item = outbox.pending.value[0]
      expect(item?.emitId).toBe(e.emitId)
      expect(item?.lastError?.kind).toBe('invalid-ack')
      await outbox.close()
    }
  })

  it('delivered() for ids never seen rejects with an OutboxError', async () => {
    const { outbox } = setup()
    open.push(outbox)
    for (const id of ['', 'nope', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '__proto__', 'constructor'])
      await expect(outbox.delivered(id)).rejects.toBeInstanceOf(OutboxError)
    expect(() => outbox.discard('__proto__')).not.toThrow()
    expect(() => outbox.retry('constructor')).not.toThrow()
    await tick()
    expect(outbox.size.value).toBe(0)
  })
})
