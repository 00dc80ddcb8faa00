import { eventNetwork } from './network.ts'
import type { OutboxSocket } from './socket-transport.ts'
import type { NetworkMonitor } from './types.ts'

/**
 * Connectivity as a Socket.IO client socket sees it: `online` is `socket.connected`, following its
 * `connect` and `disconnect` events. With `network: socketNetwork(socket)` the outbox sends nothing
 * while the socket is down and every lane resumes, in order, when it reconnects. The socket
 * listeners attach on the first subscription and detach when the last one ends.
 */
export function socketNetwork(socket: Pick<OutboxSocket, 'connected' | 'on' | 'off'>): NetworkMonitor {
  return eventNetwork(
    () => socket.connected,
    (notify) => {
      socket.on('connect', notify)
      socket.on('disconnect', notify)
      return () => {
        socket.off('connect', notify)
        socket.off('disconnect', notify)
      }
    },
  )
}
