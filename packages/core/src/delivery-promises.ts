import { capTo } from './capped.ts'
import { DeliveryFailedError, OutboxError } from './errors.ts'
import type { Queue } from './queue.ts'

/** How many recent acks `delivered()` and `status()` remember. */
export const ACK_MEMORY = 1024

type Outcome = { ack: Record<string, unknown> } | { error: Error }

/** The promises `delivered()` returns, and the memory of recent acks that answers late callers. */
export interface DeliveryPromises {
  /** Keeps an ack for `delivered()` and `status()` (the last ACK_MEMORY of them). */
  remember(emitId: string, ack: Record<string, unknown>): void
  /** Resolves or rejects whoever waits for this item. */
  settle(emitId: string, outcome: Outcome): void
  isAcked(emitId: string): boolean
  delivered(emitId: string): Promise<Record<string, unknown>>
  /** Rejects every `delivered()` still waiting (the outbox is closing or clearing). */
  rejectAll(error: Error): void
  clear(): void
}

export function createDeliveryPromises(queue: Queue): DeliveryPromises {
  const acks = new Map<string, Record<string, unknown>>()
  const trimAcks = capTo(acks, ACK_MEMORY)
  const waiters = new Map<
    string,
    Array<{ resolve: (ack: Record<string, unknown>) => void; reject: (e: Error) => void }>
  >()
  const settle = (emitId: string, outcome: Outcome) => {
    const list = waiters.get(emitId)
    if (!list) return
    waiters.delete(emitId)
    for (const w of list) 'ack' in outcome ? w.resolve(outcome.ack) : w.reject(outcome.error)
  }
  return {
    remember(emitId, ack) {
      acks.set(emitId, ack)
      trimAcks()
    },
    settle,
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
        if (list) list.push({ resolve, reject })
        else waiters.set(emitId, [{ resolve, reject }])
      })
    },
    rejectAll(error) {
      for (const id of [...waiters.keys()]) settle(id, { error })
    },
    clear: () => acks.clear(),
  }
}
