import type { SessionAnswer } from './protocol.ts'

export type SessionOptions = {
  /** Default `'/api/session'`. */
  url?: string
  /** How long "signing in again" takes, so the page can show it. Default 1_200 ms. */
  signInDelayMs?: number
}

/**
 * The page's sign-in: a bearer token from `POST /api/session`, fetched on first use and again by
 * `refresh()` (the outbox's `onUnauthorized`). Kept in memory only, as a real app keeps its access
 * token; a reload signs in afresh.
 */
export function createSession(user: string, options: SessionOptions = {}) {
  const url = options.url ?? '/api/session'
  const delayMs = options.signInDelayMs ?? 1_200
  let token: string | undefined
  let pending: Promise<string> | undefined

  const signIn = (): Promise<string> => {
    pending ??= (async () => {
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ user }),
        })
        const answer = (await response.json().catch(() => undefined)) as Partial<SessionAnswer> | undefined
        if (!response.ok || typeof answer?.token !== 'string')
          throw new Error(`sign-in failed: HTTP ${response.status}`)
        token = answer.token
        return answer.token
      } finally {
        pending = undefined
      }
    })()
    return pending
  }

  return {
    /** The token of the moment, if there is one (for last-chance sends, which cannot wait). */
    get token(): string | undefined {
      return token
    },
    /** `authorization: Bearer …` with the current token, signing in first if there is none. */
    async headers(): Promise<Record<string, string>> {
      try {
        return { authorization: `Bearer ${token ?? (await signIn())}` }
      } catch {
        // No token (the session endpoint unreachable): the request goes without; a 401 brings us back here.
        return {}
      }
    },
    /** The same, at once, without signing in. */
    headersNow(): Record<string, string> {
      return token === undefined ? {} : { authorization: `Bearer ${token}` }
    },
    /** Signs in again after a short, visible delay: what `onUnauthorized` does. */
    async refresh(): Promise<void> {
      token = undefined
      await new Promise((resolve) => setTimeout(resolve, delayMs))
      await signIn()
    },
  }
}

export type Session = ReturnType<typeof createSession>
