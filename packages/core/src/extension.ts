/**
 * `@outbox/core/extension`: running the outbox in a Manifest V3 extension. The service worker is
 * the one sender (`extensionHost`, `acceptRelayed`); content scripts and popups relay to it
 * (`relayToWorker`). A subpath of its own, so the main entry's types carry no `chrome` shapes.
 */
export type { ChromeAlarms, ExtensionHostOptions } from './extension-host.ts'
export { alarmName, extensionHost, MIN_ALARM_MS, TIMER_LIMIT_MS } from './extension-host.ts'
export type { AcceptRuntime, RelayEmit, RelayedEmitOptions, RelayRuntime, RelaySender } from './relay.ts'
export { acceptRelayed, RelayError, relayToWorker } from './relay.ts'
