import { createServer } from 'node:http'
import { describe, expectTypeOf, it } from 'vitest'
import {
  type AckResult,
  type ApplyContext,
  createOutboxHandler,
  type Envelope,
  type IdempotencyStore,
  memoryStore,
  type OutboxHandler,
  type Rejection,
  reject,
  toNodeListener,
} from '../src/index.ts'

describe('public types', () => {
  it('types the handler as fetch-style, with optional locals', () => {
    const handler = createOutboxHandler<{ user: string }>({
      apply: (envelope, context) => {
        expectTypeOf(envelope).toEqualTypeOf<Envelope>()
        expectTypeOf(context).toEqualTypeOf<ApplyContext<{ user: string }>>()
        expectTypeOf(context.locals.user).toBeString()
        return { messageId: 'm1' }
      },
    })
    expectTypeOf(handler).toEqualTypeOf<OutboxHandler<{ user: string }>>()
    expectTypeOf(handler).parameters.toEqualTypeOf<[Request, ({ user: string } | undefined)?]>()
    expectTypeOf(handler).returns.resolves.toEqualTypeOf<Response>()
  })

  it('lets apply return ids, nothing, or a rejection, sync or async', () => {
    createOutboxHandler({ apply: () => undefined })
    createOutboxHandler({ apply: async () => {} })
    createOutboxHandler({ apply: async () => reject('forbidden', { hint: 'Sign in again.' }) })
    createOutboxHandler({ apply: () => ({ ok: false, code: 409 }) })
    // @ts-expect-error a string is no ack
    createOutboxHandler({ apply: () => 'done' })
    expectTypeOf(reject('x')).toEqualTypeOf<Rejection>()
  })

  it('plugs into node:http and accepts any IdempotencyStore', () => {
    const handler = createOutboxHandler({ apply: () => undefined, store: memoryStore({ ttlMs: 1_000 }) })
    createServer(toNodeListener(handler))
    const custom: IdempotencyStore = {
      begin: async () => ({ status: 'started', token: 't', leaseMs: 60_000 }),
      complete: async (_key: string, _token: string, _fingerprint: string, _result: AckResult) => true,
      abandon: async () => true,
      renew: async () => true,
    }
    createOutboxHandler({ apply: () => undefined, store: custom })
  })
})
