export { isRejection, reject } from './ack.ts'
export { fingerprintEnvelope } from './fingerprint.ts'
export type { OutboxHandler } from './handler.ts'
export { createOutboxHandler } from './handler.ts'
export type { BeginResult, IdempotencyStore } from './idempotency-store.ts'
export type { MemoryStore, MemoryStoreOptions } from './memory-store.ts'
export { memoryStore } from './memory-store.ts'
export type { NodeListener, NodeRequest, NodeResponse } from './node.ts'
export { toNodeListener } from './node.ts'
export type {
  OutboxServerSocket,
  OutboxSocketHandler,
  OutboxSocketHandlerOptions,
  SocketAnswer,
  SocketApplyContext,
} from './socket.ts'
export { createOutboxSocketHandler } from './socket.ts'
export type {
  Ack,
  AckResult,
  ApplyContext,
  ApplyResult,
  Envelope,
  EnvelopeKeys,
  OutboxHandlerOptions,
  Rejection,
  WireRejection,
} from './types.ts'
export type { Validation } from './validate.ts'
export { validateEnvelope } from './validate.ts'
