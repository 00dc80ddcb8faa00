export type { ReadonlySignal } from '@preact/signals-core'
export { batch, computed, effect } from '@preact/signals-core'
export type { HttpAnswer } from './ack.ts'
export { syncTag } from './background-sync.ts'
export type { DrainResult } from './drain-outbox.ts'
export { drainOutbox } from './drain-outbox.ts'
export { MAX_ENVELOPE_BYTES } from './envelope.ts'
export { DeliveryFailedError, InvalidEmitError, OutboxClosedError, OutboxError, OutboxFullError } from './errors.ts'
export type { Host, HostChannel, LifecycleHooks } from './host.ts'
export { browserHost } from './host.ts'
export type { HttpRequest, HttpTransportOptions } from './http-transport.ts'
export { httpTransport } from './http-transport.ts'
export { idbStorage } from './idb-storage.ts'
export { alwaysOnline, browserNetwork, manualNetwork } from './network.ts'
export { createOutbox, defaultLane } from './outbox.ts'
export { defaultHardErrorCodes } from './retry.ts'
export { parseRetryAfter } from './retry-after.ts'
export type { SenderLock } from './sender-lock.ts'
export { socketNetwork } from './socket-network.ts'
export type { OutboxSocket, SocketTransportOptions } from './socket-transport.ts'
export { socketTransport } from './socket-transport.ts'
export type { OutboxStorage } from './storage.ts'
export { memoryStorage } from './storage.ts'
export type {
  AuthState,
  BreakerOptions,
  BreakerState,
  Clock,
  CoalesceOptions,
  DeferredRequest,
  DeliveryError,
  DeliveryResult,
  DeliveryStatus,
  DropReason,
  EmitEnvelope,
  EmitKeys,
  EmitOptions,
  FailedItem,
  NetworkMonitor,
  Outbox,
  OutboxEvents,
  OutboxItem,
  OutboxOptions,
  OutboxState,
  RetryOptions,
  Transport,
} from './types.ts'
