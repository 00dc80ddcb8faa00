/**
 * The DevTools protocol's view of service worker registrations, for the Chromium tests that fire
 * a worker's `sync` event with no page of the app open (core's e2e and the playground's): one copy
 * for both, as `redis-server.ts` is for the Redis tests.
 */
export type Registration = { registrationId: string; scopeURL: string; isDeleted: boolean }

/** The part of playwright-core's `CDPSession` used here, typed by shape (scripts/ has no dependencies). */
export type DevToolsSession = {
  on(
    event: 'ServiceWorker.workerRegistrationUpdated',
    listener: (params: { registrations: Registration[] }) => void,
  ): unknown
  send(method: 'ServiceWorker.enable'): Promise<unknown>
}

/** Every live registration by scope URL, kept up to date from a page's DevTools session. */
export async function watchRegistrations(cdp: DevToolsSession): Promise<Map<string, Registration>> {
  const registrations = new Map<string, Registration>()
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: list }) => {
    for (const r of list) if (!r.isDeleted) registrations.set(r.scopeURL, r)
  })
  await cdp.send('ServiceWorker.enable')
  return registrations
}
