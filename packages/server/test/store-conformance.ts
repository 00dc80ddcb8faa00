import { describe, expect, it } from 'vitest'
import { applyOnce, type Outcome } from '../src/apply-once.ts'
import { defaultFingerprint } from '../src/fingerprint.ts'
import { createOutboxHandler } from '../src/handler.ts'
import type { BeginResult, IdempotencyStore } from '../src/idempotency-store.ts'
import type { AckResult, ApplyResult, Envelope } from '../src/types.ts'
import { deferred, envelope, singleRequest } from './helpers.ts'

/** Lease and retention every store under test is opened with. */
export const LEASE_MS = 600
export const TTL_MS = 1_500

/** What the suite needs from one kind of store. */
export type StoreHarness = {
  /**
   * `instances` stores over one fresh, shared state, as that many server processes would see it
   * (for Redis: one client each), with `LEASE_MS` and `TTL_MS`.
   */
  open(instances?: number): Promise<IdempotencyStore[]>
  /** Lets `ms` pass for the store's clock and for `applyOnce`'s renewal timer. */
  advance(ms: number): Promise<void>
  /** A store of this kind that cannot be reached, and how to bring it back. */
  unreachable(): Promise<{ store: IdempotencyStore; restore(): Promise<void> }>
}

const token = (found: BeginResult): string => {
  if (found.status !== 'started') throw new Error(`expected a claim, found ${found.status}`)
  return found.token
}

/** `applyOnce` as the handler calls it, counting applies and keeping reported errors. */
function applier(store: IdempotencyStore, errors: unknown[] = []) {
  let applies = 0
  const once = (e: Envelope, run: () => ApplyResult | Promise<ApplyResult> = () => ({ n: e.payload.text })) =>
    applyOnce(e, {
      store,
      key: e.emitId,
      fingerprint: defaultFingerprint,
      run: () => {
        applies++
        return run()
      },
      onError: (error) => errors.push(error),
    })
  return { once, applies: () => applies, errors }
}

const resultOf = (outcome: Outcome): AckResult | undefined => ('result' in outcome ? outcome.result : undefined)

/**
 * The contract every `IdempotencyStore` keeps, run against each implementation: one claim among
 * concurrent duplicates, tokens that only their holder can use, leases that expire only after
 * their time and are renewed while `apply` runs, retention, and failure when unreachable.
 */
export function storeConformance(name: string, harness: StoreHarness) {
  const { open, advance } = harness

  describe(`${name}: the IdempotencyStore contract`, () => {
    it('applies concurrent duplicates sent to several instances exactly once', async () => {
      const stores = await open(3)
      const gate = deferred()
      const appliers = stores.map((store) => applier(store))
      const e = envelope(1)
      const outcomes = Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          (appliers[i % 3] as ReturnType<typeof applier>).once(e, async () => {
            await gate.promise
            return { id: 'first' }
          }),
        ),
      )
      await advance(50)
      gate.resolve()
      const kinds = (await outcomes).map((o) => o.kind)
      expect(kinds.filter((k) => k === 'applied')).toHaveLength(1)
      expect(kinds.filter((k) => k !== 'applied' && k !== 'in-progress' && k !== 'replayed')).toEqual([])
      expect(appliers.reduce((sum, a) => sum + a.applies(), 0)).toBe(1)
    })

    it('answers a repeat after completion with the stored result, on any instance', async () => {
      const [a, b] = (await open(2)).map((store) => applier(store))
      const first = await a?.once(envelope(1))
      expect(first).toEqual({ kind: 'applied', result: { ok: true, emitId: envelope(1).emitId, n: 'hello 1' } })
      const again = await b?.once(envelope(1))
      expect(again).toEqual({ kind: 'replayed', result: resultOf(first as Outcome) })
      expect((a?.applies() ?? 0) + (b?.applies() ?? 0)).toBe(1)
    })

    it('reports a key reused with another fingerprint, completed or in progress', async () => {
      const [store] = await open()
      const a = applier(store as IdempotencyStore)
      await a.once(envelope(1))
      expect(await a.once(envelope(1, { payload: { text: 'other' } }))).toEqual({ kind: 'key-reused' })
      token(await (store as IdempotencyStore).begin('held', 'f1'))
      expect(await (store as IdempotencyStore).begin('held', 'f2')).toEqual({
        status: 'in-progress',
        fingerprint: 'f1',
      })
      expect(a.applies()).toBe(1)
    })

    it('reports a claim in progress to every other caller', async () => {
      const [a, b] = await open(2)
      const found = await (a as IdempotencyStore).begin('k', 'f')
      expect(found).toEqual({ status: 'started', token: expect.any(String), leaseMs: LEASE_MS })
      expect(await (b as IdempotencyStore).begin('k', 'f')).toEqual({ status: 'in-progress', fingerprint: 'f' })
      const other = applier(b as IdempotencyStore)
      expect(await other.once(envelope(2))).toMatchObject({ kind: 'applied' })
    })

    it('frees a claim whose holder crashed once its lease has passed, and not before', async () => {
      const [a, b] = await open(2)
      token(await (a as IdempotencyStore).begin('k', 'f')) // then the process dies: no renew, no complete
      await advance(LEASE_MS / 2)
      expect((await (b as IdempotencyStore).begin('k', 'f')).status).toBe('in-progress')
      await advance(LEASE_MS / 2 + 150)
      expect((await (b as IdempotencyStore).begin('k', 'f')).status).toBe('started')
    })

    it('refuses a stale holder: it can neither complete, release nor renew the new claim', async () => {
      const [a, b] = await open(2)
      const stale = token(await (a as IdempotencyStore).begin('k', 'f'))
      await advance(LEASE_MS + 150)
      const fresh = token(await (b as IdempotencyStore).begin('k', 'f'))
      expect(fresh).not.toBe(stale)
      expect(await (a as IdempotencyStore).complete('k', stale, 'f', { ok: true, emitId: 'k', by: 'a' })).toBe(false)
      expect(await (a as IdempotencyStore).abandon('k', stale)).toBe(false)
      expect(await (a as IdempotencyStore).renew('k', stale)).toBe(false)
      expect((await (a as IdempotencyStore).begin('k', 'f')).status).toBe('in-progress')
      expect(await (b as IdempotencyStore).complete('k', fresh, 'f', { ok: true, emitId: 'k', by: 'b' })).toBe(true)
      expect(await (a as IdempotencyStore).begin('k', 'f')).toEqual({
        status: 'done',
        fingerprint: 'f',
        result: { ok: true, emitId: 'k', by: 'b' },
      })
    })

    it('refuses a token that never held the key, and a completed key', async () => {
      const [store] = (await open()) as [IdempotencyStore]
      const held = token(await store.begin('k', 'f'))
      expect(await store.abandon('k', 'not-a-token')).toBe(false)
      expect(await store.complete('k', 'not-a-token', 'f', { ok: true, emitId: 'k' })).toBe(false)
      expect(await store.complete('k', held, 'f', { ok: true, emitId: 'k' })).toBe(true)
      expect(await store.abandon('k', held)).toBe(false)
      expect(await store.renew('k', held)).toBe(false)
      expect((await store.begin('k', 'f')).status).toBe('done')
      expect(await store.abandon('free', held)).toBe(false)
    })

    it('releases a claim on abandon, so a retry applies the key', async () => {
      const [store] = (await open()) as [IdempotencyStore]
      const a = applier(store)
      expect(await a.once(envelope(1), () => ({ ok: false, code: 'busy', retryable: true }))).toMatchObject({
        kind: 'applied',
      })
      expect(await a.once(envelope(1))).toMatchObject({ kind: 'applied', result: { ok: true } })
      expect(a.applies()).toBe(2)
    })

    it('renews the claim while a long apply runs, so no other instance applies it', async () => {
      const [a, b] = (await open(2)).map((store) => applier(store))
      const gate = deferred<ApplyResult>()
      const long = a?.once(envelope(1), () => gate.promise)
      for (let waited = 0; waited < LEASE_MS * 3; waited += LEASE_MS / 2) {
        await advance(LEASE_MS / 2)
        expect(await b?.once(envelope(1))).toEqual({ kind: 'in-progress' })
      }
      gate.resolve({ id: 'long' })
      expect(await long).toMatchObject({ kind: 'applied', result: { id: 'long' } })
      expect(await b?.once(envelope(1))).toMatchObject({ kind: 'replayed', result: { id: 'long' } })
      expect(a?.errors).toEqual([])
      expect(b?.applies()).toBe(0)
    })

    it('stops renewing once apply has settled', async () => {
      const [store] = (await open()) as [IdempotencyStore]
      const a = applier(store)
      expect(await a.once(envelope(1), () => Promise.reject(new Error('boom')))).toEqual({ kind: 'failed' })
      await advance(LEASE_MS + 150)
      expect(a.errors).toEqual([new Error('boom')]) // no renewal reported a lost claim afterwards
      expect((await store.begin(envelope(1).emitId, 'f')).status).toBe('started')
    })

    it('forgets a completed key once its TTL has passed, and not before', async () => {
      const [store] = (await open()) as [IdempotencyStore]
      const a = applier(store)
      await a.once(envelope(1))
      await advance(TTL_MS / 2)
      expect((await a.once(envelope(1))).kind).toBe('replayed')
      await advance(TTL_MS / 2 + 150)
      expect((await a.once(envelope(1))).kind).toBe('applied')
      expect(a.applies()).toBe(2)
    })

    it('answers 503 with Retry-After when the store cannot be reached, applying nothing', async () => {
      const { store, restore } = await harness.unreachable()
      try {
        let applies = 0
        const errors: unknown[] = []
        const handler = createOutboxHandler({ apply: () => void applies++, store, onError: (e) => errors.push(e) })
        const response = await handler(singleRequest(envelope(1)))
        expect(response.status).toBe(503)
        expect(response.headers.get('retry-after')).toBe('2')
        expect(await response.json()).toMatchObject({ code: 'unavailable', retryable: true })
        expect(applies).toBe(0)
        expect(errors).toHaveLength(1)
      } finally {
        await restore()
      }
    })
  })
}
