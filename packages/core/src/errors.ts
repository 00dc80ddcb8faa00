import type { DeliveryError } from './types.ts'

/** Base class of every error the outbox throws. */
export class OutboxError extends Error {
  override name: string = 'OutboxError'
}

/** `emit` got an event or payload it cannot send; nothing was queued. */
export class InvalidEmitError extends OutboxError {
  override name = 'InvalidEmitError' as const
  /** Dotted path to the offending value, e.g. `payload.items[2]`. */
  readonly path: string | undefined
  constructor(message: string, options?: { path?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.path = options?.path
  }
}

/** `emit` found `maxSize` items pending; nothing was queued. */
export class OutboxFullError extends OutboxError {
  override name = 'OutboxFullError' as const
  readonly maxSize: number
  constructor(maxSize: number) {
    super(
      `The outbox holds ${maxSize} pending items (maxSize). Wait for delivery (outbox.flush()), discard items, or raise maxSize.`,
    )
    this.maxSize = maxSize
  }
}

/** The outbox was closed; create a new one to emit again. */
export class OutboxClosedError extends OutboxError {
  override name = 'OutboxClosedError' as const
  constructor() {
    super('This outbox is closed. Create a new outbox (createOutbox) to emit again.')
  }
}

/** `delivered()` rejects with this when the item failed terminally or was discarded. */
export class DeliveryFailedError extends OutboxError {
  override name = 'DeliveryFailedError' as const
  readonly emitId: string
  readonly error: DeliveryError
  constructor(emitId: string, error: DeliveryError) {
    super(`Event ${emitId} was not delivered: ${error.message}`)
    this.emitId = emitId
    this.error = error
  }
}

/** A `storage` error for `outbox:error`: storage failed, and items stay in memory meanwhile. */
export const storageError = (message: string, cause?: unknown): DeliveryError => ({
  kind: 'storage',
  message: cause instanceof Error ? `${message}: ${cause.name}: ${cause.message}` : message,
  retryable: true,
  hint: 'Items are kept in memory and will be stored again when storage works.',
})
