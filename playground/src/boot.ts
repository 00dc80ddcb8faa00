import { createChatClient } from './chat-client.ts'
import { switchableNetwork } from './network.ts'
import { createServerFeed } from './server-feed.ts'
import { createWorkerSwitch, workerSwitchOn } from './service-worker.ts'
import { sizeHistory } from './size-history.ts'
import { type Readable, writable } from './store.ts'

/**
 * What both pages set up: the user (`?user=` or the framework's name), a network switch the fault
 * panel drives, the chat client with its persistent outbox, the service worker switch, the server
 * feed and the size chart.
 */
export function boot(framework: 'svelte' | 'vue') {
  const user = new URLSearchParams(location.search).get('user') ?? framework
  // The offline switch lives on the server; the last known value covers the first poll after a reload.
  const offlineKey = `playground:${user}:offline`
  const network = switchableNetwork(sessionStorage.getItem(offlineKey) !== '1')
  const feed = createServerFeed(user)
  feed.view.subscribe((view) => {
    if (!view) return
    network.setSwitch(!view.faults.offline)
    sessionStorage.setItem(offlineKey, view.faults.offline ? '1' : '0')
  })
  // With the service worker switch on, pending events are handed to Background Sync as well.
  const client = createChatClient({ userId: user, network, outbox: { backgroundSync: workerSwitchOn() } })
  const worker = createWorkerSwitch(client)
  const history = sizeHistory(client.outbox)
  // One clock for every countdown on the page ("retrying in 2.1 s").
  const now = writable(Date.now())
  setInterval(() => now.set(Date.now()), 250)
  // Debugging aid: the pieces, from the browser console.
  Object.assign(globalThis, { playground: { client, feed, network, worker } })
  return { framework, user, client, feed, history, worker, now: now as Readable<number> }
}

export type Playground = ReturnType<typeof boot>
