/**
 * The extension's service worker: the one sender. Content scripts and the popup relay their
 * events here (`acceptRelayed`); the outbox stores them in IndexedDB and delivers them, in order
 * per list, exactly once with the server's idempotency. Chrome stops this worker after about 30 s
 * without events: waits longer than that ride a `chrome.alarms` alarm (`extensionHost`), and every
 * start of the worker sends what is stored.
 */
import { createOutbox, httpTransport } from '@outbox/core'
import { acceptRelayed, extensionHost } from '@outbox/core/extension'

/** Set by build.ts (`--endpoint`). */
declare const OUTBOX_ENDPOINT: string
/** Set by build.ts for the end-to-end test: short backoff and alarms (allowed in unpacked extensions). */
declare const OUTBOX_SHORT_WAITS: boolean

const persistenceKey = 'notes'

// Everything here runs synchronously at the top level: Chrome wakes a stopped worker only for
// events that had a listener when its script first ran (runtime.onMessage, alarms.onAlarm).
const outbox = createOutbox({
  transport: httpTransport({ url: OUTBOX_ENDPOINT }),
  mode: 'persistent',
  persistenceKey,
  host: extensionHost({ persistenceKey, ...(OUTBOX_SHORT_WAITS ? { timerLimitMs: 1_000, minAlarmMs: 0 } : {}) }),
  ...(OUTBOX_SHORT_WAITS ? { retry: { baseMs: 3_000, jitter: false } } : {}),
})

acceptRelayed(outbox, { persistenceKey })

outbox.on('outbox:failed', ({ envelope, error }) => console.warn('not delivered:', envelope.event, error.message))

// For the worker's DevTools console (chrome://extensions → "Inspect views: service worker").
Object.assign(globalThis, { outbox })
