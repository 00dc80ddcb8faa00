/**
 * The content script: records each visit of a matching page. It does not send anything itself
 * (it dies with the tab); the service worker's outbox does.
 */
import { relayToWorker } from '@outbox/core/extension'

const emit = relayToWorker({ persistenceKey: 'notes' })

emit('page:visit', { url: location.href, title: document.title }, { lane: 'visits' }).catch((error: unknown) =>
  console.warn('@outbox example: the visit was not recorded:', error),
)
