import { capTo } from './capped.ts'
import { DeliveryFailedError, OutboxError } from './errors.ts'
import type { Queue } from './queue.ts'
import type { DeliveryError } from './types.ts'

/** How many recent acks `delivered()` and `status()` remember. */
export const ACK_MEMORY = 1024

type Waiter = [resolve: (ack: Record<string, unknown>) => void, reject: (e: Error) => void]

/** The promises `delivered()` returns, and the memory of recent acks that answers late callers. */
export interface DeliveryPromises {
  /** Keeps the ack (the last ACK_MEMORY of them, for `delivered()` and `status()`) and resolves whoever waits. */
  acked(emitId: string, ack: Record<string, unknown>): void
  /** Rejects whoever waits with a `DeliveryFailedError` carrying `error`. */
  failed(emitId: string, error: DeliveryError): void
  isAcked(emitId: string): boolean
  delivered(emitId: string): Promise<Record<string, unknown>>
  /** Rejects every `delivered()` still waiting (the outbox is closing or clearing). */
  rejectAll(error: Error): void
  clear(): void
}

export function createDeliveryPromises(queue: Queue): DeliveryPromises {
  const acks = new Map<string, Record<string, unknown>>()
  const trimAcks = capTo(acks, ACK_MEMORY)
  const waiters = new Map<string, Waiter[]>()
  /** Resolves with `ack`, or else rejects with `error`, whoever waits for this item. */
  const settle = (emitId: string, ack?: Record<string, unknown>, error?: Error) => {
    const list = waiters.get(emitId)
    if (!list) return
    waiters.delete(emitId)
    for (const [resolve, reject] of list) ack ? resolve(ack) : reject(error as Error)
  }
  return {
    acked(emitId, ack) {
      acks.set(emitId, ack)
      trimAcks()
      settle(emitId, ack)
    },
    failed: (emitId, error) => settle(emitId, undefined, new DeliveryFailedError(emitId, error)),
    isAcked: (emitId) => acks.has(emitId),
    delivered(emitId) {
      const ack = acks.get(emitId)
      if (ack) return Promise.resolve(ack)
      const failed = queue.failedItems.get(emitId)
      if (failed) return Promise.reject(new DeliveryFailedError(emitId, failed.error))
      if (!queue.get(emitId))
        return Promise.reject(
          new OutboxError(
            `This outbox has no record of event ${emitId}: it was never emitted here, or was acked too long ago.`,
          ),
        )
      return new Promise((resolve, reject) => {
        const list = waiters.get(emitId)
        if (list) list.push([resolve, reject])
        else waiters.set(emitId, [[resolve, reject]])
      })
    },
    rejectAll(error) {
      for (const id of [...waiters.keys()]) settle(id, undefined, error)
    },
    clear: () => acks.clear(),
  }
}
