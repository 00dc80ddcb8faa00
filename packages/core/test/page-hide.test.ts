// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest'
import { createOutbox } from '../src/outbox.ts'
import type { EmitEnvelope, Transport } from '../src/types.ts'
import { fakeClock, heldTransport, manualNetwork, tick } from './helpers.ts'

function beaconTransport() {
  const held = heldTransport()
  const beacons: EmitEnvelope[][] = []
  const transport: Transport = { send: held.send, sendBeacon: (batch) => void beacons.push([...batch]) }
  return { transport, beacons, held }
}

describe('page hide', () => {
  it('hands pending items that are not in flight to keepalive requests, and keeps them pending', async () => {
    const { transport, beacons } = beaconTransport()
    const network = manualNetwork()
    const outbox = createOutbox({ transport, clock: fakeClock(), network })
    const a1 = outbox.emit('m', { chatId: 'a' })
    await tick() // a1 is now in flight
    const a2 = outbox.emit('m', { chatId: 'a' })
    outbox.pause()
    const b1 = outbox.emit('m', { chatId: 'b' })
    window.dispatchEvent(new Event('pagehide'))
    expect(beacons).toEqual([
      [expect.objectContaining({ emitId: a2.emitId }), expect.objectContaining({ emitId: b1.emitId })],
    ])
    expect(beacons[0]?.some((e) => e.emitId === a1.emitId)).toBe(false)
    expect(outbox.size.value).toBe(3)
    await outbox.close()
  })

  it('also fires when the page becomes hidden, never while offline, and stops after close', async () => {
    const { transport, beacons } = beaconTransport()
    const network = manualNetwork()
    const outbox = createOutbox({ transport, clock: fakeClock(), network })
    outbox.pause()
    outbox.emit('m', {})
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' })
    document.dispatchEvent(new Event('visibilitychange'))
    expect(beacons).toHaveLength(1)
    network.set(false)
    window.dispatchEvent(new Event('pagehide'))
    expect(beacons).toHaveLength(1)
    network.set(true)
    await outbox.close()
    window.dispatchEvent(new Event('pagehide'))
    expect(beacons).toHaveLength(1)
  })
})
