// @vitest-environment happy-dom
import 'fake-indexeddb/auto'
import { describe, expect, it } from 'vitest'
import { createOutbox } from '../src/outbox.ts'
import { fakeTransport as answering, httpError } from '../src/testing.ts'
import type { EmitEnvelope, Transport } from '../src/types.ts'
import {
  fakeClock,
  fakeTransport,
  heldTransport,
  manualNetwork,
  storeUnannounced,
  tick,
  turns,
  uniqueKey,
  until,
} from './helpers.ts'

function beaconTransport(maxBatch = 1) {
  const held = heldTransport()
  const beacons: string[][][] = []
  const transport: Transport = {
    maxBatch,
    send: held.send,
    sendBeacon: (groups) => void beacons.push(groups.map((g) => g.map((e: EmitEnvelope) => e.emitId))),
  }
  return { transport, beacons, held }
}

describe('page hide', () => {
  it('hands each idle lane’s head to a keepalive request, skipping lanes with a call in flight', async () => {
    const { transport, beacons } = beaconTransport()
    const outbox = createOutbox({ transport, clock: fakeClock(), network: manualNetwork() })
    outbox.emit('m', { chatId: 'a' })
    await tick() // a's head is now in flight: nothing of lane a may overtake it
    outbox.emit('m', { chatId: 'a' })
    // Emitted in this task: still queued when the page hides (the scheduler runs after it).
    const b1 = outbox.emit('m', { chatId: 'b' })
    outbox.emit('m', { chatId: 'b' })
    const c1 = outbox.emit('m', { chatId: 'c' })
    window.dispatchEvent(new Event('pagehide'))
    expect(beacons).toEqual([[[b1.emitId], [c1.emitId]]])
    expect(outbox.size.value).toBe(5)
    await outbox.close()
  })

  it('hands up to maxBatch items of a lane to one request in batch mode', async () => {
    const { transport, beacons } = beaconTransport(2)
    const outbox = createOutbox({ transport, clock: fakeClock(), network: manualNetwork() })
    const ids = [1, 2, 3].map((n) => outbox.emit('m', { chatId: 'a', n }).emitId)
    document.dispatchEvent(new Event('visibilitychange'))
    window.dispatchEvent(new Event('pagehide'))
    expect(beacons).toEqual([[[ids[0], ids[1]]]])
    await outbox.close()
  })

  it('also fires when the page becomes hidden, never while offline, and stops after close', async () => {
    const { transport, beacons } = beaconTransport()
    const network = manualNetwork()
    const outbox = createOutbox({ transport, clock: fakeClock(), network })
    outbox.emit('m', { chatId: 'a' })
    let visibility = 'hidden'
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => visibility })
    document.dispatchEvent(new Event('visibilitychange'))
    expect(beacons).toHaveLength(1)
    window.dispatchEvent(new Event('pagehide')) // the same hide: not sent twice
    expect(beacons).toHaveLength(1)
    visibility = 'visible'
    document.dispatchEvent(new Event('visibilitychange'))
    network.set(false)
    window.dispatchEvent(new Event('pagehide'))
    expect(beacons).toHaveLength(1)
    network.set(true) // lane a's head goes out (and stays in flight)
    const b = outbox.emit('m', { chatId: 'b' })
    window.dispatchEvent(new Event('pageshow'))
    window.dispatchEvent(new Event('pagehide'))
    expect(beacons).toEqual([[[expect.any(String)]], [[b.emitId]]])
    await outbox.close()
    window.dispatchEvent(new Event('pageshow'))
    window.dispatchEvent(new Event('pagehide'))
    expect(beacons).toHaveLength(2)
  })

  it('sends nothing while paused: pause() stops the last-chance send too', async () => {
    const { transport, beacons } = beaconTransport()
    const outbox = createOutbox({ transport, clock: fakeClock(), network: manualNetwork() })
    outbox.pause()
    const a = outbox.emit('m', { chatId: 'a' })
    window.dispatchEvent(new Event('pagehide'))
    expect(beacons).toEqual([])
    outbox.resume()
    window.dispatchEvent(new Event('pageshow'))
    window.dispatchEvent(new Event('pagehide'))
    expect(beacons).toEqual([[[a.emitId]]])
    await outbox.close()
  })

  it('sends nothing while signed out: the credentials a 401 refused do not go out with the page', async () => {
    const beacons: string[][][] = []
    const transport: Transport = {
      ...answering({ reply: () => httpError(401) }),
      sendBeacon: (groups) => void beacons.push(groups.map((g) => g.map((e) => e.emitId))),
    }
    const outbox = createOutbox({ transport, clock: fakeClock(), network: manualNetwork() })
    outbox.emit('m', { chatId: 'a' })
    await until(() => outbox.auth.peek() === 'required')
    outbox.emit('m', { chatId: 'b' })
    window.dispatchEvent(new Event('pagehide'))
    expect(beacons).toEqual([])
    await outbox.close()
  })

  /** A sender and a follower on a fresh key, and a stored item no tab announced to them. */
  async function senderFollowerOrphan(transport: Transport) {
    const key = uniqueKey('hide')
    const clock = fakeClock()
    const options = { transport, clock, mode: 'persistent', persistenceKey: key } as const
    const sender = createOutbox({ ...options, network: manualNetwork() })
    await sender.ready
    const follower = createOutbox({ ...options, network: manualNetwork() })
    await follower.ready
    await clock.advance(2000) // the first outbox leads
    await turns(20)
    const orphan = await storeUnannounced(key, clock.now())
    await turns(50)
    return { sender, follower, orphan }
  }

  it('a hiding follower asks the sender to re-read storage, so a write it commits as it goes is not missed', async () => {
    const transport = fakeTransport()
    const { sender, follower, orphan } = await senderFollowerOrphan(transport)
    expect(transport.sent()).toEqual([])
    window.dispatchEvent(new Event('pagehide'))
    await until(() => sender.status(orphan).peek() === 'delivered', 200)
    expect(transport.sent()).toEqual([orphan])
    await follower.close()
    await sender.close()
  })

  it('a follower back from the back/forward cache reads storage again (it heard no tab meanwhile)', async () => {
    const { sender, follower, orphan: missed } = await senderFollowerOrphan(heldTransport())
    window.dispatchEvent(new Event('pageshow')) // an ordinary show: nothing to catch up on
    await turns(50)
    expect(follower.status(missed).peek()).toBe('unknown')
    window.dispatchEvent(Object.assign(new Event('pageshow'), { persisted: true }))
    await until(() => follower.status(missed).peek() === 'queued', 200)
    await follower.close()
    await sender.close()
  })
})
