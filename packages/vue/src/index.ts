// The whole core, so an app installs one package; `export *` keeps it complete as the core grows.
export * from '@outbox/core'
export { OutboxNotProvidedError, outboxKey, outboxPlugin } from './plugin.ts'
export type { UseOutboxReturn } from './use-outbox.ts'
export { useOutbox } from './use-outbox.ts'
export { useDeliveryStatus, useLane } from './views.ts'
