// The whole core, so an app installs one package; `export *` keeps it complete as the core grows.
export * from '@outbox/core'
export { getOutbox, setOutbox } from './context.ts'
export type { SignalLike, SignalStore } from './from-signal.ts'
export { fromSignal } from './from-signal.ts'
export { deliveryStatus, laneItems } from './views.ts'
