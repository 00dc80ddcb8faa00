/// <reference lib="webworker" />
/**
 * A dedicated worker's outbox, bundled by `server.ts` (with `@outbox/core` from source or dist) and
 * served as `/worker.js`. The same `createOutbox` as a page's: `browserHost` finds no window, so
 * the worker is always "online", has no page lifecycle, and still has IndexedDB, the tab channel
 * and the sender lock. The page drives it by messages (`harness.dedicatedWorker`).
 */
import type { Outbox } from '@outbox/core'
import { answer, emitAll, startOutbox } from './worker-outbox.ts'

declare const self: DedicatedWorkerGlobalScope

let outbox: Outbox | undefined

type Message =
  | { op: 'start'; persistenceKey: string }
  | { op: 'emit'; list: Array<{ event: string; payload: Record<string, unknown> }> }
  | { op: 'size' }

async function run(message: Message): Promise<unknown> {
  switch (message.op) {
    case 'start':
      outbox = await startOutbox(message.persistenceKey, 'worker')
      return null
    case 'emit':
      return emitAll(outbox, message.list)
    case 'size':
      return outbox?.size.peek() ?? 0
  }
}

self.onmessage = (event: MessageEvent) => void answer(event.ports[0], run(event.data as Message))
