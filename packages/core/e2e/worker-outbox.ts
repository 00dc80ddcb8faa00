/**
 * What the two test workers share (the service worker `sw.ts`, the dedicated worker `worker.ts`):
 * their transport, a persistent outbox started on a key, emits from a list, and answers to the
 * page's messages over the port each message brings.
 */
import { createOutbox, httpTransport, type Outbox } from '@outbox/core'
import type { Emitted } from './page.ts'

export const retry = { baseMs: 50, maxMs: 500 }

/** `httpTransport` to the test server, its requests marked with `tab` (`x-tab`). */
export const client = (tab: string) => httpTransport({ url: '/events', headers: { 'x-tab': tab } })

export async function startOutbox(persistenceKey: string, tab: string): Promise<Outbox> {
  const outbox = createOutbox({ transport: client(tab), mode: 'persistent', persistenceKey, retry })
  await outbox.ready
  return outbox
}

export const emitAll = (
  outbox: Outbox | undefined,
  list: Array<{ event: string; payload: Record<string, unknown> }>,
): Emitted[] =>
  list.map(({ event, payload }) => {
    if (!outbox) throw new Error('no outbox: send { op: "start" } first')
    const e = outbox.emit(event, payload)
    return { emitId: e.emitId, lane: e.lane, event: e.event }
  })

/** Answers a message on its port: `{ ok: true, value }`, or `{ ok: false, error }`. */
export const answer = (port: MessagePort | undefined, work: Promise<unknown>): Promise<void> =>
  work.then(
    (value) => port?.postMessage({ ok: true, value }),
    (error: unknown) => port?.postMessage({ ok: false, error: String(error) }),
  )
