import type { Sender, ServerView } from './protocol.ts'

/** The events the server panel counts, in the order of the use cases. */
export const EVENT_ROWS = [
  'user:message',
  'chat:read',
  'typing:start',
  'typing:stop',
  'tool:call',
  'tool:abort',
] as const

/** How each sender of a late delivery is shown. */
export const SENDER_LABEL: Record<Exclude<Sender, 'page'>, string> = {
  worker: 'service worker (sync)',
  'fetch-later': 'fetchLater (tab gone)',
  keepalive: 'keepalive (tab hidden)',
}

const n = (table: Record<string, number>, key: string) => table[key] ?? 0

/** The server panel's headline facts, one per use case, as [label, value] pairs. */
export function facts(view: ServerView, keystrokes: number): Array<[string, string]> {
  const { counters: c } = view
  const duplicates = Object.values(c.messageApplies).filter((times) => times > 1).length
  const typing = n(c.applied, 'typing:start') + n(c.applied, 'typing:stop')
  return [
    [
      'messages stored',
      `${view.messages.length}${duplicates ? ` (${duplicates} re-sent, stored once)` : ', each once'}`,
    ],
    ['read receipts', `${view.readReceipts} received · ${view.unread} unread on the server`],
    ['typing', `${keystrokes} keystrokes here → ${typing} typing events arrived`],
    ['tool executions', `${view.toolExecutions} for ${n(c.requests, 'tool:call')} tool requests (retries included)`],
    ['faults', `${c.cut} connections cut · ${c.acksDropped} acks dropped · ${c.injected} errors injected`],
    ['sign-in', `${c.unauthorized} answered 401 · ${c.signIns} token${c.signIns === 1 ? '' : 's'} issued`],
  ]
}
