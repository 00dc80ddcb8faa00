import { describe, expect, it } from 'vitest'
import { OutboxError } from '../src/errors.ts'
import { alarmName, type ChromeAlarms, extensionHost, MIN_ALARM_MS, TIMER_LIMIT_MS } from '../src/extension-host.ts'
import { createOutbox } from '../src/outbox.ts'
import { fakeTransport, httpError, manualNetwork, type TestClock, testClock } from '../src/testing.ts'
import type { Clock } from '../src/types.ts'
import { until } from './helpers.ts'

/** `chrome.alarms` as the host sees it: one alarm per name, fired only when the test says so. */
function fakeAlarms(clock: Clock) {
  const listeners: Array<(alarm: { name: string }) => void> = []
  const set = new Map<string, number>()
  const log: string[] = []
  const alarms: ChromeAlarms & { set: Map<string, number>; log: string[]; fire(name: string): void } = {
    set,
    log,
    create(name, { when }) {
      set.set(name, when)
      log.push(`create ${name} in ${when - clock.now()}`)
      return Promise.resolve()
    },
    clear(name) {
      const had = set.delete(name)
      log.push(`clear ${name}`)
      return Promise.resolve(had)
    },
    onAlarm: { addListener: (listener) => void listeners.push(listener) },
    fire(name) {
      set.delete(name)
      for (const listener of listeners) listener({ name })
    },
  }
  return alarms
}

/** A worker whose timers never fire (Chrome stopped it, or throttles it): only alarms get through. */
const frozen = (clock: TestClock): Clock => ({ now: () => clock.now(), setTimeout: () => ({}), clearTimeout() {} })

function setup(options: { key?: string; base?: (clock: TestClock) => Clock } = {}) {
  const clock = testClock()
  const alarms = fakeAlarms(clock)
  const persistenceKey = options.key ?? 'notes'
  const host = extensionHost({ persistenceKey, alarms, clock: options.base ? options.base(clock) : clock })
  alarms.log.length = 0 // the start-up clear (tested on its own)
  return { clock, alarms, host, name: alarmName(persistenceKey) }
}

describe('extensionHost', () => {
  it('names its alarm after the persistence key', () => {
    expect(alarmName('notes')).toBe('outbox:notes')
    expect(alarmName()).toBe('outbox:outbox')
  })

  it('clears an alarm left by the previous life of the worker when it starts', () => {
    const clock = testClock()
    const alarms = fakeAlarms(clock)
    alarms.set.set('outbox:notes', clock.now() + 60_000)
    extensionHost({ persistenceKey: 'notes', alarms, clock })
    expect(alarms.set.size).toBe(0)
  })

  it('runs a short wait on a plain timer, without an alarm', async () => {
    const { clock, alarms, host } = setup()
    let fired = 0
    host.clock.setTimeout(() => fired++, 5_000)
    expect(alarms.log).toEqual([])
    await clock.advance(5_000)
    expect(fired).toBe(1)
    expect(alarms.log).toEqual([])
  })

  it('covers a wait past the safe bound with an alarm, no sooner than Chrome allows', () => {
    const { alarms, host, name } = setup()
    host.clock.setTimeout(() => {}, TIMER_LIMIT_MS + 5_000)
    expect(alarms.log).toEqual([`create ${name} in ${MIN_ALARM_MS}`])
  })

  it('sets the alarm for the due time when that is later than the minimum', () => {
    const { alarms, host, name } = setup()
    host.clock.setTimeout(() => {}, 90_000)
    expect(alarms.log).toEqual([`create ${name} in 90000`])
  })

  it('covers a short wait with an alarm too when it ends late in the worker life', async () => {
    const { clock, alarms, host, name } = setup()
    await clock.advance(18_000) // nothing the host saw kept the worker alive meanwhile
    host.clock.setTimeout(() => {}, 5_000)
    expect(alarms.log).toEqual([`create ${name} in ${MIN_ALARM_MS}`])
  })

  it('counts its own call to chrome.alarms as a sign of life', async () => {
    const { clock, alarms, host, name } = setup()
    host.clock.setTimeout(() => {}, 60_000) // sets the alarm: Chrome restarts its idle countdown
    await clock.advance(10_000)
    host.clock.setTimeout(() => {}, 5_000) // due 15 s after that call: within the bound
    expect(alarms.log).toEqual([`create ${name} in 60000`])
  })

  it('clears the alarm when its timer fires in a live worker', async () => {
    const { clock, alarms, host, name } = setup()
    let fired = 0
    host.clock.setTimeout(() => fired++, 25_000)
    await clock.advance(25_000)
    expect(fired).toBe(1)
    expect(alarms.log).toEqual([`create ${name} in ${MIN_ALARM_MS}`, `clear ${name}`])
    expect(alarms.set.size).toBe(0)
  })

  it('keeps one alarm for the earliest long timer and moves it when that one is cleared', () => {
    const { alarms, host, name } = setup()
    const first = host.clock.setTimeout(() => {}, 40_000)
    host.clock.setTimeout(() => {}, 90_000)
    expect(alarms.log).toEqual([`create ${name} in 40000`])
    host.clock.clearTimeout(first)
    expect(alarms.log.at(-1)).toBe(`create ${name} in 90000`)
    expect(alarms.set.size).toBe(1)
  })

  it('clears the alarm when its last long timer is cleared', () => {
    const { alarms, host, name } = setup()
    const timer = host.clock.setTimeout(() => {}, 40_000)
    host.clock.clearTimeout(timer)
    expect(alarms.log).toEqual([`create ${name} in 40000`, `clear ${name}`])
  })

  it('runs the due timers when the alarm fires, even if their own timeouts never do', async () => {
    const { clock, alarms, host, name } = setup({ base: frozen })
    const fired: string[] = []
    host.clock.setTimeout(() => fired.push('a'), 40_000)
    host.clock.setTimeout(() => fired.push('b'), 100_000)
    await clock.advance(45_000)
    expect(fired).toEqual([])
    alarms.fire(name)
    expect(fired).toEqual(['a'])
    expect(alarms.log.at(-1)).toBe(`create ${name} in 55000`) // re-armed for the one still waiting
    await clock.advance(55_000)
    alarms.fire(name)
    expect(fired).toEqual(['a', 'b'])
    expect(alarms.set.size).toBe(0)
  })

  it('ignores alarms of other names, and an alarm that finds no timer (it only woke the worker)', () => {
    const { alarms, host } = setup()
    let fired = 0
    host.clock.setTimeout(() => fired++, 40_000)
    alarms.fire('someone-else')
    alarms.fire('outbox:other-key')
    expect(fired).toBe(0)
    const fresh = setup()
    expect(() => fresh.alarms.fire(fresh.name)).not.toThrow()
    expect(fresh.alarms.log).toEqual([])
  })

  it('clears a long timer only once, and leaves plain timers to the base clock', async () => {
    const { clock, alarms, host } = setup()
    let fired = 0
    const short = host.clock.setTimeout(() => fired++, 1_000)
    const long = host.clock.setTimeout(() => fired++, 40_000)
    host.clock.clearTimeout(short)
    host.clock.clearTimeout(long)
    host.clock.clearTimeout(long)
    await clock.advance(60_000)
    expect(fired).toBe(0)
    expect(clock.timerCount()).toBe(0)
    expect(alarms.log.filter((l) => l.startsWith('clear'))).toHaveLength(1)
  })

  it('reports online without a network monitor, since a worker hears no online events', () => {
    const { host } = setup()
    expect(host.network.online).toBe(true)
    const network = manualNetwork(false)
    const clock = testClock()
    expect(extensionHost({ alarms: fakeAlarms(clock), clock, network }).network).toBe(network)
  })

  it('throws a typed error without chrome.alarms, and for bad limits', () => {
    expect(() => extensionHost()).toThrow(OutboxError)
    expect(() => extensionHost()).toThrow(/"alarms" to "permissions"/)
    const alarms = fakeAlarms(testClock())
    expect(() => extensionHost({ alarms, timerLimitMs: -1 })).toThrow(/timerLimitMs/)
    expect(() => extensionHost({ alarms, minAlarmMs: Number.NaN })).toThrow(/minAlarmMs/)
  })

  it('lets an outbox wait out a long Retry-After on an alarm, and resume when it fires', async () => {
    const { clock, alarms, host, name } = setup({ base: frozen })
    const transport = fakeTransport().next(httpError(429, { retryAfterMs: 120_000 }))
    const outbox = createOutbox({ transport, host })
    const { emitId } = outbox.emit('note:add', { text: 'hi' })
    await until(() => outbox.status(emitId).value === 'waiting')
    expect(alarms.set.get(name)).toBe(clock.now() + 120_000)

    await clock.advance(120_000) // the worker's own timers never fire
    expect(transport.calls).toHaveLength(1)
    alarms.fire(name)
    await until(() => outbox.status(emitId).value === 'delivered')
    expect(transport.calls).toHaveLength(2)
    await outbox.close()
  })
})
