/// <reference lib="webworker" />
/**
 * A dedicated worker's outbox, bundled by `server.ts` (with `@outbox/core` from source or dist) and
 * served as `/worker.js`. The same `createOutbox` as a page's: `browserHost` finds no window, so
 * the worker is always "online", has no page lifecycle, and still has IndexedDB, the tab channel
 * and the sender lock. The page drives it by messages (`harness.dedicatedWorker`).
 */
import { createOutbox, httpTransport, type Outbox } from '@outbox/core'

declare const self: DedicatedWorkerGlobalScope

let outbox: Outbox | undefined

type Message =
  | { op: 'start'; persistenceKey: string }
  | { op: 'emit'; list: Array<{ event: string; payload: Record<string, unknown> }> }
  | { op: 'size' }

async function run(message: Message): Promise<unknown> {
  switch (message.op) {
    case 'start':
      outbox = createOutbox({
        transport: httpTransport({ url: '/events', headers: { 'x-tab': 'worker' } }),
        mode: 'persistent',
        persistenceKey: message.persistenceKey,
        retry: { baseMs: 50, maxMs: 500 },
      })
      await outbox.ready
      return null
    case 'emit':
      return message.list.map(({ event, payload }) => {
        const e = (outbox as Outbox).emit(event, payload)
        return { emitId: e.emitId, lane: e.lane, event: e.event }
      })
    case 'size':
      return outbox?.size.peek() ?? 0
  }
}

self.onmessage = (event: MessageEvent) => {
  const port = event.ports[0]
  run(event.data as Message).then(
    (value) => port?.postMessage({ ok: true, value }),
    (error: unknown) => port?.postMessage({ ok: false, error: String(error) }),
  )
}
