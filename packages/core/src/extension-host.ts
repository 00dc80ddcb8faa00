import { OutboxError } from './errors.ts'
import { browserHost, type Host, realClock } from './host.ts'
import { alwaysOnline } from './network.ts'
import type { Clock, OutboxOptions } from './types.ts'

/** The part of `chrome.alarms` the extension host uses, typed structurally (no `@types/chrome`). */
export interface ChromeAlarms {
  create(name: string, info: { when: number }): unknown
  clear(name: string): unknown
  onAlarm: { addListener(listener: (alarm: { name: string }) => void): void }
}

export type ExtensionHostOptions = Pick<OutboxOptions, 'persistenceKey' | 'clock' | 'network'> & {
  /** Default `chrome.alarms` (the manifest needs the `"alarms"` permission). */
  alarms?: ChromeAlarms
  /**
   * A timer due more than this after the worker was last known to be alive (its start, an alarm,
   * the host's own call to `chrome.alarms`) also sets an alarm. Chrome stops an idle worker after
   * 30 s; the default 20 000 leaves 10 s of margin.
   */
  timerLimitMs?: number
  /**
   * The soonest an alarm may fire after it is set. Chrome fires alarms of packed extensions no
   * sooner than 30 s (shorter ones fire at 30 s); default 30 000. Unpacked extensions may go lower.
   */
  minAlarmMs?: number
}

/** Default of `timerLimitMs`: 10 s inside Chrome's 30 s idle limit. */
export const TIMER_LIMIT_MS = 20_000
/** Default of `minAlarmMs`: Chrome's minimum alarm delay (Chrome 120 and later). */
export const MIN_ALARM_MS = 30_000

/** The alarm that wakes the worker for the outbox on `persistenceKey` (the same shape as the sync tag). */
export const alarmName = (persistenceKey = 'outbox'): string => `outbox:${persistenceKey}`

/**
 * The host for a Manifest V3 extension's service worker. Chrome stops the worker after about 30 s
 * without events, and its timers with it, so a timer that could outlive the worker (a backoff, a
 * breaker's cooldown) also sets a `chrome.alarms` alarm, whose event starts the worker again. The
 * alarm carries no state: a persistent outbox created at the worker's top level loads its stored
 * items and sends them at every start. A timer that fires while the worker lives clears its alarm.
 *
 * The online hint is `alwaysOnline` unless `network` says otherwise: Chrome's workers get no
 * `online`/`offline` events, so an outbox that believed `navigator.onLine === false` would never
 * hear that the network came back. Sends are tried instead; a network error backs off, and a long
 * wait rides an alarm.
 *
 * Create the outbox, and so this host, synchronously at the worker's top level: Chrome wakes a
 * worker only for events that had a listener when its script first ran.
 */
export function extensionHost(options: ExtensionHostOptions = {}): Host {
  const alarms = options.alarms ?? (globalThis as { chrome?: { alarms?: ChromeAlarms } }).chrome?.alarms
  if (!alarms || typeof alarms.create !== 'function')
    throw new OutboxError(
      'extensionHost needs chrome.alarms: add "alarms" to "permissions" in manifest.json and create the outbox in the extension\'s service worker.',
    )
  const limits = {
    timerLimitMs: duration('timerLimitMs', options.timerLimitMs, TIMER_LIMIT_MS),
    minAlarmMs: duration('minAlarmMs', options.minAlarmMs, MIN_ALARM_MS),
  }
  const clock = alarmClock(options.clock ?? realClock, alarms, alarmName(options.persistenceKey), limits)
  return browserHost({ clock, network: options.network ?? alwaysOnline })
}

function duration(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!(Number.isFinite(value) && value >= 0))
    throw new OutboxError(`extensionHost: options.${name} must be a number of milliseconds, 0 or more; got ${value}.`)
  return value
}

type LongTimer = { due: number; fn: () => void; handle: unknown }

/** Chrome's extension API calls return promises; a failed one must not become an unhandled rejection. */
const settle = (result: unknown) => {
  if (result instanceof Promise) result.catch(() => {})
}

/**
 * A clock whose timers survive the worker: each one that is due past the worker's safe lifetime
 * is also covered by one alarm, set for the earliest of them. When the alarm fires in a live
 * worker it runs the timers that are due; in a worker started by it there are none yet (the
 * outbox's start-up already sends), and the event only woke it.
 */
function alarmClock(
  base: Clock,
  alarms: ChromeAlarms,
  name: string,
  limits: { timerLimitMs: number; minAlarmMs: number },
): Clock {
  const long = new Set<LongTimer>()
  const mine = new WeakSet<LongTimer>()
  /** When the worker was last known to be alive: Chrome's idle countdown started no earlier. */
  let aliveAt = base.now()
  /** The timer due time the alarm is set for; undefined while no alarm is set. */
  let armedFor: number | undefined

  const rearm = () => {
    let earliest = Infinity
    for (const timer of long) earliest = Math.min(earliest, timer.due)
    if (earliest === (armedFor ?? Infinity)) return
    if (earliest === Infinity) {
      armedFor = undefined
      settle(alarms.clear(name))
    } else {
      armedFor = earliest
      settle(alarms.create(name, { when: Math.max(earliest, base.now() + limits.minAlarmMs) }))
    }
    aliveAt = base.now() // calling an extension API restarts Chrome's idle countdown
  }

  const fire = (timer: LongTimer) => {
    if (!long.delete(timer)) return
    rearm()
    timer.fn()
  }

  alarms.onAlarm.addListener((alarm) => {
    if (alarm?.name !== name) return
    const now = base.now()
    aliveAt = now
    armedFor = undefined // an alarm fires once
    const due = [...long].filter((timer) => timer.due <= now).sort((a, b) => a.due - b.due)
    for (const timer of due) {
      long.delete(timer)
      base.clearTimeout(timer.handle)
    }
    rearm()
    for (const timer of due) timer.fn()
  })
  // A new worker owns no timers yet: an alarm left by its previous life has nothing to run (its
  // start-up sends what is stored), and would only wake the worker once more for nothing.
  settle(alarms.clear(name))

  return {
    now: () => base.now(),
    setTimeout(fn, ms) {
      const due = base.now() + Math.max(0, ms)
      if (due <= aliveAt + limits.timerLimitMs) return base.setTimeout(fn, ms)
      const timer: LongTimer = { due, fn, handle: undefined }
      mine.add(timer)
      long.add(timer)
      timer.handle = base.setTimeout(() => fire(timer), ms)
      rearm()
      return timer
    },
    clearTimeout(handle) {
      if (!mine.has(handle as LongTimer)) return base.clearTimeout(handle)
      const timer = handle as LongTimer
      base.clearTimeout(timer.handle)
      if (long.delete(timer)) rearm()
    },
  }
}
