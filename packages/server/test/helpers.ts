import type { AddressInfo } from 'node:net'
import type { IdempotencyStore } from '../src/idempotency-store.ts'
import type { Envelope } from '../src/types.ts'

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** A valid ULID that differs per `n` (the last four characters count). */
export function ulidOf(n: number): string {
  let tail = ''
  for (let i = 0, v = n; i < 4; i++, v = Math.floor(v / 32)) tail = (CROCKFORD[v % 32] as string) + tail
  return `01HZY3NDEKTSV4RRFFQ69G${tail}`
}

/** An envelope as the client sends it. */
export function envelope(n: number, overrides: Partial<Envelope> = {}): Envelope {
  return {
    emitId: ulidOf(n),
    event: 'user:message',
    payload: { chatId: 'c1', text: `hello ${n}` },
    lane: 'c1',
    createdAt: 1_700_000_000_000 + n,
    ...overrides,
  }
}

export const URL_BASE = 'http://outbox.test/api/events'

/** A single-mode request with the quoted Idempotency-Key the client sends. */
export function singleRequest(body: unknown, headers: Record<string, string> = {}): Request {
  const emitId = (body as { emitId?: unknown }).emitId
  return new Request(URL_BASE, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(typeof emitId === 'string' ? { 'idempotency-key': `"${emitId}"` } : {}),
      ...headers,
    },
    body: JSON.stringify(body),
  })
}

export function batchRequest(envelopes: unknown[]): Request {
  return new Request(URL_BASE, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ envelopes }),
  })
}

export function rawRequest(body: BodyInit | null, headers: Record<string, string> = {}, method = 'POST'): Request {
  return new Request(URL_BASE, { method, headers: { 'content-type': 'application/json', ...headers }, body })
}

/** A promise with its settle functions outside, to hold `apply` open while a test looks. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Counts `apply` calls per emitId, recording the envelopes in call order. */
export function recorder() {
  const calls: Envelope[] = []
  const count = (emitId: string) => calls.filter((e) => e.emitId === emitId).length
  return { calls, count, ids: () => calls.map((e) => e.emitId) }
}

/** Listens on 127.0.0.1, port 0, and returns the URL plus a close function. */
export async function listen(server: import('node:http').Server, path = '/api/events') {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A hand-written store for one situation: every call succeeds unless overridden. */
export function stubStore(overrides: Partial<IdempotencyStore> = {}): IdempotencyStore {
  return {
    begin: async () => ({ status: 'started', token: 't', leaseMs: 60_000 }),
    complete: async () => true,
    abandon: async () => true,
    renew: async () => true,
    ...overrides,
  }
}
