import type { ControlRequest, ServerView } from './protocol.ts'
import { type Readable, writable } from './store.ts'

/**
 * Polls `/api/state` for the inspector panels. It bypasses the fault switches on purpose: it is
 * the demo's window into the server, not part of the chat's connection.
 */
export function createServerFeed(user: string, everyMs = 600) {
  const view = writable<ServerView | undefined>(undefined)
  const error = writable<string | undefined>(undefined)
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false

  const refresh = async (): Promise<void> => {
    try {
      const response = await fetch(`/api/state?user=${encodeURIComponent(user)}`, { cache: 'no-store' })
      if (!response.ok) throw new Error(`HTTP ${response.status}`)
      view.set((await response.json()) as ServerView)
      error.set(undefined)
    } catch (e) {
      error.set(e instanceof Error ? e.message : String(e))
    }
  }

  const loop = async () => {
    await refresh()
    if (!stopped) timer = setTimeout(loop, everyMs)
  }
  void loop()

  return {
    view: view as Readable<ServerView | undefined>,
    /** Why the last poll failed, if it did (the dev server stopped, say). */
    error: error as Readable<string | undefined>,
    refresh,
    /** Flips fault switches or resets this user's server state; the view updates from the answer. */
    async control(request: Omit<ControlRequest, 'user'>): Promise<void> {
      const response = await fetch('/api/control', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...request, user }),
      })
      if (response.ok) view.set((await response.json()) as ServerView)
    },
    stop() {
      stopped = true
      clearTimeout(timer)
    },
  }
}

export type ServerFeed = ReturnType<typeof createServerFeed>
