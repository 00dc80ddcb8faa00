import type { DeliveryError } from '@outbox/core'
import type { ChatEntry, EntryStatus } from './chat-client.ts'

/** 14:03:09 */
export const clock = (ms: number | undefined): string =>
  ms === undefined ? '' : new Date(ms).toLocaleTimeString('en-GB', { hour12: false })

/** "in 2.4 s", or "now" once the time has come. */
export const countdown = (at: number | undefined, now: number): string => {
  if (at === undefined) return ''
  const s = (at - now) / 1000
  return s <= 0.05 ? 'now' : `in ${s.toFixed(1)} s`
}

/** Icon and words for a chat row's status. */
export const STATUS: Record<EntryStatus, { icon: string; text: string }> = {
  queued: { icon: '🕓', text: 'pending' },
  sending: { icon: '🕓', text: 'sending' },
  waiting: { icon: '↻', text: 'retrying' },
  delivered: { icon: '✓', text: 'delivered' },
  failed: { icon: '⚠', text: 'not sent' },
  lost: { icon: '✗', text: 'lost (outbox off)' },
  cancelled: { icon: '⊘', text: 'cancelled' },
  unknown: { icon: '·', text: 'unknown' },
}

/** "HTTP 500: The server failed…" or "rejected (blocked-word): …" */
export const describeError = (error: DeliveryError | undefined): string => {
  if (!error) return ''
  const code = error.code === undefined ? '' : ` ${error.code}`
  return `${error.kind}${code}: ${error.message}`
}

/** A short label for an item's payload in the queue view. */
export const summary = (event: string, payload: Record<string, unknown>): string => {
  if (event === 'user:message') return `“${String(payload.text)}”`
  if (event === 'tool:call') return `${String(payload.tool)} (${String(payload.requestId)})`
  if (event === 'tool:abort') return String(payload.requestId)
  if (event === 'chat:read') return `up to ${String(payload.upTo)}`
  return String(payload.userId ?? '')
}

/** The ticket a tool call's ack carries, once it ran. */
export const ticketOf = (entry: ChatEntry): string | undefined => {
  const result = entry.ack?.result as { ticket?: unknown } | undefined
  return typeof result?.ticket === 'string' ? result.ticket : undefined
}
