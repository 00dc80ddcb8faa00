import 'fake-indexeddb/auto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { idbStorage } from '../src/idb-storage.ts'
import { createOutbox } from '../src/outbox.ts'
import type { OutboxStorage } from '../src/storage.ts'
import { SKIPPED_NOTICES } from '../src/tab-channel.ts'
import type { Outbox, OutboxOptions, Transport } from '../src/types.ts'
import { fakeClock, fakeTransport, heldTransport, manualNetwork, turns, uniqueKey, until } from './helpers.ts'

/**
 * A stand-in for `navigator.locks` (Node has none): exclusive locks granted in request order, and
 * `query()`, whose answer is the state when it was asked. While `holdQueries` is set, answers wait
 * for `answerQueries()`.
 */
function fakeLocks() {
  type Waiter = { name: string; grant: () => void }
  const held = new Set<string>()
  const pending: Waiter[] = []
  const grantNext = (name: string) => {
    if (held.has(name)) return
    const i = pending.findIndex((w) => w.name === name)
    if (i >= 0) pending.splice(i, 1)[0]?.grant()
  }
  const parked: Array<() => void> = []
  const locks = {
    holdQueries: false,
    answerQueries: () => {
      for (const answer of parked.splice(0)) answer()
    },
    request(name: string, options: { signal?: AbortSignal }, callback: () => Promise<void>): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          name,
          grant: () => {
            held.add(name)
            void callback()
              .then(resolve, reject)
              .finally(() => {
                held.delete(name)
                grantNext(name)
              })
          },
        }
        options.signal?.addEventListener('abort', () => {
          const i = pending.indexOf(waiter)
          if (i >= 0) pending.splice(i, 1)
          reject(options.signal?.reason)
        })
        pending.push(waiter)
        queueMicrotask(() => grantNext(name))
      })
    },
    query() {
      const state = {
        held: [...held].map((name) => ({ name, mode: 'exclusive' })),
        pending: pending.map((w) => ({ name: w.name, mode: 'exclusive' })),
      }
      if (!locks.holdQueries) return Promise.resolve(state)
      return new Promise<typeof state>((resolve) => parked.push(() => resolve(state)))
    },
  }
  return locks
}

let locks: ReturnType<typeof fakeLocks>
const hadNavigator = Object.getOwnPropertyDescriptor(globalThis, 'navigator')
beforeEach(() => {
  locks = fakeLocks()
  Object.defineProperty(globalThis, 'navigator', { value: { locks }, configurable: true, writable: true })
})
const open: Outbox[] = []
const channels: BroadcastChannel[] = []
afterEach(async () => {
  for (const o of open.splice(0)) await o.close()
  for (const c of channels.splice(0)) c.close()
  if (hadNavigator) Object.defineProperty(globalThis, 'navigator', hadNavigator)
  else delete (globalThis as { navigator?: unknown }).navigator
})

function tab(key: string, options: Partial<OutboxOptions> = {}) {
  const outbox = createOutbox({
    transport: fakeTransport(),
    mode: 'persistent',
    persistenceKey: key,
    clock: fakeClock(),
    network: manualNetwork(),
    retry: { jitter: false },
    ...options,
  })
  open.push(outbox)
  return outbox
}

/** Every message posted on the key's channel, heard as a tab would (it takes no lock: no outbox). */
function listen(key: string) {
  const heard: Array<{ t: string; notices?: Array<{ emitId: string }> }> = []
  const channel = new BroadcastChannel(`outbox:${key}`)
  channel.onmessage = ({ data }) => heard.push(data)
  channels.push(channel)
  return heard
}

/** A sender on a fresh key, started, with a listener for what it posts. */
async function sender<T extends Transport>(transport: T) {
  const key = uniqueKey('alone')
  const heard = listen(key)
  const outbox = tab(key, { transport })
  await outbox.ready
  await turns(20)
  return { key, heard, outbox }
}

describe('a sender alone on its key (Web Locks show no other outbox)', () => {
  it('posts no messages to other tabs while it stores and delivers', async () => {
    const transport = fakeTransport()
    const { key, heard, outbox } = await sender(transport)
    const ids = [1, 2, 3].map((i) => outbox.emit('m', { chatId: 'c', i }).emitId)
    await until(() => outbox.size.value === 0)
    await outbox.close()
    expect(transport.sent()).toEqual(ids)
    expect(heard).toEqual([])
    expect(await idbStorage(key).load()).toEqual([])
  })

  it('hands a tab that turns up the settlements it skipped, and has it read storage again', async () => {
    const transport = heldTransport()
    const { key, heard, outbox: first } = await sender(transport)
    const x = first.emit('m', { chatId: 'c' }).emitId
    await until(() => transport.open.length === 1)
    await turns(20) // x is stored
    // The new tab reads storage while x is still there, and finishes only after x was acked.
    let release = () => {}
    const gate = new Promise<void>((r) => (release = r))
    const inner = idbStorage(key)
    const storage: OutboxStorage = {
      load: async () => {
        const records = await inner.load()
        await gate
        return records
      },
      write: (puts, deletes) => inner.write(puts, deletes),
      clear: () => inner.clear(),
    }
    const late = tab(key, { storage })
    await turns(20)
    transport.settle()
    await until(() => first.size.value === 0)
    await turns(50) // the delete is committed
    // Emitted after the new tab's read: it learns of it only by reading again.
    const z = first.emit('m', { chatId: 'other' }).emitId
    await until(() => transport.open.length === 1)
    await turns(20)
    expect(heard).toEqual([]) // alone so far: nothing was posted
    release()
    await late.ready
    expect(late.pending.value.map((i) => i.emitId)).toEqual([x]) // what it read
    let ack: unknown
    void late.delivered(x).then((a) => (ack = a))
    await until(() => ack !== undefined && late.pending.value.map((i) => i.emitId).join() === z)
    expect(ack).toEqual({ ok: true, emitId: x })
    // From now on the sender posts again.
    const y = first.emit('m', { chatId: 'c' }).emitId
    await until(() => transport.open.length === 2)
    transport.settle()
    transport.settle()
    await until(() => heard.some((m) => m.t === 'news' && m.notices?.some((k) => k.emitId === y)))
    await until(() => late.size.value === 0 && late.status(y).value === 'delivered')
  })

  it('keeps only the last SKIPPED_NOTICES settlements for a tab that turns up', async () => {
    const { key, heard, outbox: first } = await sender(fakeTransport(undefined, 100))
    const ids = Array.from({ length: SKIPPED_NOTICES + 10 }, (_, i) => first.emit('m', { chatId: 'c', i }).emitId)
    await until(() => first.size.value === 0, 5000)
    expect(heard).toEqual([])
    const late = tab(key)
    await late.ready // then it says it is here
    await until(() => heard.some((m) => m.t === 'news'), 5000)
    const news = heard.find((m) => m.t === 'news')
    expect(news?.notices?.map((n) => n.emitId)).toEqual(ids.slice(-SKIPPED_NOTICES))
  })

  it('ignores an answer asked for before another tab was heard from', async () => {
    locks.holdQueries = true
    // It leads and has asked: the answer will say it is alone.
    const { key, heard, outbox: first } = await sender(fakeTransport())
    const other = tab(key)
    await other.ready
    await turns(20) // the new tab's message has arrived
    locks.answerQueries()
    await turns(20)
    const y = first.emit('m', { chatId: 'c' }).emitId
    await until(() => other.status(y).value === 'delivered')
    expect(heard.some((m) => m.t === 'news')).toBe(true)
  })

  it('stops posting once the other tabs have closed and its queue drains', async () => {
    const key = uniqueKey('alone')
    const transport = fakeTransport()
    const sender = tab(key, { transport })
    await sender.ready
    const other = tab(key)
    await other.ready
    await turns(20)
    const heard = listen(key)
    const a = sender.emit('m', { chatId: 'c' }).emitId
    await until(() => other.status(a).value === 'delivered')
    expect(heard.some((m) => m.t === 'news')).toBe(true)
    await other.close()
    await turns(20)
    // Its next drain asks again; from then on it posts nothing.
    const b = sender.emit('m', { chatId: 'c' }).emitId
    await until(() => sender.size.value === 0)
    await turns(20)
    heard.length = 0
    sender.emit('m', { chatId: 'c' })
    await until(() => sender.size.value === 0)
    await turns(50)
    expect(transport.sent()).toHaveLength(3)
    expect(transport.sent()[1]).toBe(b)
    expect(heard).toEqual([])
  })
})
