import { type ReadonlySignal, signal } from '@preact/signals-core'
import type { BreakerOptions, BreakerState, Clock } from './types.ts'

/**
 * How long the failures in a row must last before they say "down". A server that answers most
 * requests can still fail a handful at once (a restart dropping the open connections, a burst of
 * unlucky requests); a server that is down keeps failing for longer than that.
 */
export const DOWN_AFTER_MS = 1000
/** The first cooldown (or `cooldownMs` if shorter); it doubles after each failed probe. */
const FIRST_COOLDOWN_MS = 1000

/** A failed transport call, as the breaker sees it. */
export type CallFailure = {
  lane: string
  /** This call was the half-open breaker's probe. */
  probe: boolean
  /** The server's `Retry-After` deadline for this call (ms since epoch), if it sent one. */
  retryAfterUntil?: number
  /** Lanes that have items now: with only one, its failures alone may open the breaker. */
  lanes: number
}

export interface Breaker {
  readonly state: ReadonlySignal<BreakerState>
  /** When an open breaker lets its probe through; undefined unless open. */
  readonly retryAt: ReadonlySignal<number | undefined>
  /** `'pass'` while closed, `'probe'` for the one call of a half-open period, `false` otherwise. */
  allow(): 'pass' | 'probe' | false
  /** Ends the cooldown now (flush, reconnect), though never before a `Retry-After` deadline. */
  expedite(): void
  /** The server answered (an ack or a terminal error). Returns true when that closed the breaker. */
  success(): boolean
  /** A call failed retryably (network error, 5xx, 429, an answer that is not an ack). */
  failure(call: CallFailure): void
  /** The probe was aborted before it settled (close, clear): the next call may probe again. */
  cancelProbe(): void
  reset(): void
}

/**
 * Circuit breaker across all lanes, for a server that is down, not for one that is flaky. It opens
 * when `threshold` calls in a row have failed with no answer from the server in between, from at
 * least two lanes (unless only one lane has items), over at least `DOWN_AFTER_MS`. Any answer
 * resets the count, so a server that answers most requests never opens it. While open, nothing is
 * sent; after the cooldown one probe goes through: its success closes the breaker, its failure
 * doubles the cooldown (from `FIRST_COOLDOWN_MS` up to `cooldownMs`) and opens it again. A
 * `Retry-After` seen among the failures that opened it holds it open at least that long.
 */
export function createBreaker(options: BreakerOptions = {}, clock: Clock): Breaker {
  const threshold = Math.max(1, options.threshold ?? 10)
  const maxCooldown = Math.max(0, options.cooldownMs ?? 30_000)
  const firstCooldown = Math.min(FIRST_COOLDOWN_MS, maxCooldown)
  const state = signal<BreakerState>('closed')
  const retryAt = signal<number | undefined>(undefined)
  // The run of failures since the server last answered.
  let failures = 0
  let since = 0
  const lanes = new Set<string>()
  let retryAfterUntil = 0
  let cooldown = firstCooldown
  let probing = false

  const open = () => {
    probing = false
    retryAt.value = Math.max(clock.now() + cooldown, retryAfterUntil)
    state.value = 'open'
  }

  const success = () => {
    failures = 0
    lanes.clear()
    retryAfterUntil = 0
    cooldown = firstCooldown
    if (state.value === 'closed') return false
    // Any answer closes it, a late one from before the opening too: the server is up.
    probing = false
    retryAt.value = undefined
    state.value = 'closed'
    return true
  }

  return {
    state,
    retryAt,
    allow() {
      if (state.value === 'open') {
        if (clock.now() < (retryAt.value ?? 0)) return false
        state.value = 'half-open'
        retryAt.value = undefined
      }
      if (state.value === 'closed') return 'pass'
      if (probing) return false
      probing = true
      return 'probe'
    },
    expedite() {
      if (state.value === 'open') retryAt.value = Math.max(clock.now(), retryAfterUntil)
    },
    success,
    failure(call) {
      const now = clock.now()
      if (failures === 0) since = now
      failures++
      lanes.add(call.lane)
      if (call.retryAfterUntil !== undefined) retryAfterUntil = Math.max(retryAfterUntil, call.retryAfterUntil)
      if (state.value === 'open') {
        // A late failure of a call from before the opening: the cooldown stands, unless the server
        // asked for a longer one.
        if (retryAfterUntil > (retryAt.value ?? 0)) retryAt.value = retryAfterUntil
        return
      }
      if (state.value === 'half-open') {
        if (!call.probe) return
        cooldown = Math.min(maxCooldown, cooldown * 2)
        open()
        return
      }
      if (failures >= threshold && now - since >= DOWN_AFTER_MS && (lanes.size >= 2 || call.lanes <= 1)) open()
    },
    cancelProbe() {
      probing = false
    },
    // A closed breaker has no probe and no retryAt: closing it is all a reset does beyond the counts.
    reset() {
      success()
    },
  }
}
