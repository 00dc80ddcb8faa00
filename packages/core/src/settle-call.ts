import type { Breaker } from './breaker.ts'
import { envelopeOf } from './envelope.ts'
import type { Holds } from './holds.ts'
import type { Entry, Queue } from './queue.ts'
import type { RetryPolicy } from './retry.ts'
import type { Settlement } from './settlement.ts'
import type { Clock, EmitEnvelope } from './types.ts'
import { resultsOf, serverAnswered, verdictOf } from './verdict.ts'

/** What settling a call needs from the scheduler (its context), besides the holds. */
export type CallContext = {
  queue: Queue
  settlement: Settlement
  breaker: Breaker
  policy: RetryPolicy
  clock: Clock
  random: () => number
  /** The server answered 401 for `envelope` (its item stays at its lane's head): stop and sign in again. */
  onUnauthorized: (envelope: EmitEnvelope) => void
}

/** One transport call that came back: its lane, its items, and what the transport returned or threw. */
export type Call = { lane: string; sent: Entry[]; results: unknown; thrown: unknown; probe: boolean }

/**
 * Settles each item of a call by its verdict, then tells the breaker how the call went: one
 * answer from the server (an ack, a terminal error, a 401) in the call means the server is up.
 */
export function settleCall(ctx: CallContext, holds: Holds, call: Call): void {
  const { queue, settlement: store, breaker, policy, clock } = ctx
  const { lane, sent, results, thrown, probe } = call
  const now = clock.now()
  let answered = false
  let retryAfterUntil: number | undefined
  for (const [{ item }, result] of resultsOf(sent, results, thrown)) {
    answered ||= serverAnswered(policy, result)
    const entry = queue.get(item.emitId)
    if (!entry) continue // discarded or cleared while in flight
    const verdict = verdictOf(policy, entry, result, now, ctx.random)
    if (verdict.kind === 'ack') store.ack(item.emitId, verdict.ack)
    else if (verdict.kind === 'fail') store.fail(item.emitId, verdict.error)
    else if (verdict.kind === 'sign-in') {
      // Not a failure: the item keeps its place and the attempt it just used.
      store.update(item.emitId, { status: 'queued', attempts: item.attempts, lastError: verdict.error })
      ctx.onUnauthorized(envelopeOf(entry.item))
    } else {
      const at = now + verdict.waitMs
      // Retry-After holds this item (and so its lane) exactly that long; other lanes go on. A
      // server that sends it now and then, to a few requests, still answers the rest, and holding
      // every lane for it costs the whole queue a second each time. When every lane fails, the
      // breaker opens and holds all of them at least until the latest Retry-After it saw.
      if (verdict.retryAfter) retryAfterUntil = Math.max(retryAfterUntil ?? 0, at)
      const failSeq = holds.failed(item.emitId, at, verdict.retryAfter)
      store.update(item.emitId, { status: 'waiting', nextAttemptAt: at, lastError: verdict.error }, { failSeq })
    }
  }
  if (!answered)
    breaker.failure({
      lane,
      probe,
      lanes: queue.lanes.size,
      ...(retryAfterUntil === undefined ? {} : { retryAfterUntil }),
    })
  // The server is back after an outage: the backoff waits the outage piled up are moot.
  else if (breaker.success()) holds.cut()
}
