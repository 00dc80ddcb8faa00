import { signal } from '@preact/signals-core'
import type { BreakerOptions, BreakerState, Clock } from './types.ts'

/**
 * Circuit breaker across all lanes: opens after `threshold` retryable failures in a row (or at once
 * on a 503 with `Retry-After`), stays open for the cooldown, then lets one probe through.
 */
export function createBreaker(options: BreakerOptions = {}, clock: Clock) {
  const threshold = options.threshold ?? 10
  const cooldownMs = options.cooldownMs ?? 30_000
  const state = signal<BreakerState>('closed')
  const retryAt = signal<number | undefined>(undefined)
  let failures = 0
  let probing = false

  const open = (ms: number) => {
    probing = false
    retryAt.value = clock.now() + ms
    state.value = 'open'
  }

  return {
    state,
    retryAt,
    /**
     * Whether a request may start now: `'pass'` while closed, `'probe'` for the one request let
     * through per half-open period, `false` otherwise.
     */
    allow(): 'pass' | 'probe' | false {
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
    /** Ends the cooldown now (a flush or a reconnect asks for a probe at once). */
    expedite(): void {
      if (state.value === 'open') retryAt.value = clock.now()
    },
    /**
     * The server answered (an ack, or a terminal error): it is reachable. While open, a late answer
     * to a call from before the opening does not cut the cooldown short.
     */
    success(): void {
      failures = 0
      if (state.value !== 'half-open') return
      probing = false
      state.value = 'closed'
    },
    /**
     * A retryable failure. `openForMs` (a 503's `Retry-After`) opens the breaker at once. Only the
     * probe's own failure reopens a half-open breaker; late failures of older calls are just counted.
     */
    failure(openForMs: number | undefined, probe: boolean): void {
      failures++
      if (state.value === 'open') {
        if (openForMs !== undefined && clock.now() + openForMs > (retryAt.value ?? 0)) open(openForMs)
      } else if (state.value === 'half-open') {
        if (probe) open(openForMs ?? cooldownMs)
      } else if (openForMs !== undefined) open(openForMs)
      else if (failures >= threshold) open(cooldownMs)
    },
    reset(): void {
      failures = 0
      probing = false
      state.value = 'closed'
      retryAt.value = undefined
    },
  }
}

export type Breaker = ReturnType<typeof createBreaker>
