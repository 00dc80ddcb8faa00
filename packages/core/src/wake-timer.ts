import type { Clock } from './types.ts'

/** One timer for the earliest moment something may be sent; a later moment never delays it. */
export interface WakeTimer {
  /** Wakes at `time` (ms since epoch) unless an earlier wake-up is set. */
  at(time: number): void
  stop(): void
}

export function createWakeTimer(clock: Clock, wake: () => void): WakeTimer {
  let timer: unknown
  let wakeAt = Infinity
  const stop = () => {
    if (timer !== undefined) clock.clearTimeout(timer)
    timer = undefined
    wakeAt = Infinity
  }
  return {
    at(time) {
      if (time >= wakeAt) return
      stop()
      wakeAt = time
      timer = clock.setTimeout(
        () => {
          timer = undefined
          wakeAt = Infinity
          wake()
        },
        Math.max(0, time - clock.now()),
      )
    },
    stop,
  }
}
