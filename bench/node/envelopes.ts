import { createOutbox, type EmitEnvelope, type Transport } from '@outbox/core'

/** A transport that never answers: an outbox on it keeps everything pending. */
export const silent: Transport = { send: () => new Promise<never>(() => {}) }

/** Envelopes made by a paused outbox (its ULIDs and shape), one per payload, for loops that send them by hand. */
export async function envelopesOf(payloads: Array<Record<string, unknown>>): Promise<EmitEnvelope[]> {
  const o = createOutbox({ transport: silent, maxSize: payloads.length + 1 })
  o.pause()
  const list = payloads.map((p) => o.emit('user:message', p))
  await o.close()
  return list
}
