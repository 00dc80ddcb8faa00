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
    /** True when a request may start now; a probe is let through once per half-open period. */
    allow(): boolean {
      if (state.value === 'open') {
        if (clock.now() < (retryAt.value ?? 0)) return false
        state.value = 'half-open'
        retryAt.value = undefined
      }
      if (state.value === 'half-open') {
        if (probing) return false
        probing = true
      }
      return true
    },
    /** Ends the cooldown now (a flush or a reconnect asks for a probe at once). */
    expedite(): void {
      if (state.value === 'open') retryAt.value = clock.now()
    },
    /**
     * The server answered (an ack, or a terminal error): it is reachable. An answer to a call that
     * started before the breaker opened does not cut the cooldown short; a probe's answer closes it.
     */
    success(): void {
      failures = 0
      if (state.value === 'open') return
      probing = false
      if (state.value === 'half-open') {
        state.value = 'closed'
        retryAt.value = undefined
      }
    },
    /** A retryable failure; `openForMs` (a 503's `Retry-After`) opens the breaker at once. */
    failure(openForMs?: number): void {
      failures++
      if (state.value === 'open') {
        // A late failure from before the breaker opened only ever lengthens the cooldown.
        if (openForMs !== undefined && clock.now() + openForMs > (retryAt.value ?? 0)) open(openForMs)
        return
      }
      if (openForMs !== undefined) open(openForMs)
      else if (state.value === 'half-open' || failures >= threshold) open(cooldownMs)
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
