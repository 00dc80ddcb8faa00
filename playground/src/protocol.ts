/**
 * What the playground's dev server and its pages say to each other besides the outbox's own wire
 * format: the fault switches, and the server's view of one user's chat for the inspector panels.
 */

/** How `/api/events` misbehaves for one user; everything else on the server keeps working. */
export type Faults = {
  /** The page's NetworkMonitor reports offline, and the server cuts every event connection. */
  offline: boolean
  /** The server cuts every event connection while the page still believes it is online. */
  blackhole: boolean
  /** Answer every event with this status instead of applying it; 0 answers normally. */
  status: 0 | 403 | 429 | 500 | 503
  /** Seconds sent as `Retry-After` with 429 and 503. */
  retryAfterS: number
  /** Apply the event, then cut the connection instead of answering: the ack is lost. */
  dropAcks: 'off' | 'alternate' | 'all'
  /** Delay before each event is handled. */
  slowMs: number
  /**
   * Switching it on expires every token issued so far: events carrying one are answered 401 until
   * the page signs in again (`POST /api/session`), whose fresh token is accepted.
   */
  tokenExpired: boolean
}

export const NO_FAULTS: Faults = {
  offline: false,
  blackhole: false,
  status: 0,
  retryAfterS: 3,
  dropAcks: 'off',
  slowMs: 0,
  tokenExpired: false,
}

/**
 * Who sent an event request, from the `x-outbox-sender` header: an open page (no header), the
 * service worker's `sync` handler, or a page's last-chance send as it went away (`fetchLater`, or
 * a `keepalive` request on page hide).
 */
export type Sender = 'page' | 'worker' | 'fetch-later' | 'keepalive'
export const SENDERS: readonly Sender[] = ['page', 'worker', 'fetch-later', 'keepalive']
export const SENDER_HEADER = 'x-outbox-sender'

/** An event applied from a request no open page sent (see `Sender`). */
export type LateDelivery = { at: number; emitId: string; event: string; what: string; sender: Exclude<Sender, 'page'> }

/** The word the server's moderation refuses (use case 3: a rejected message with a hint). */
export const FORBIDDEN_WORD = 'spam'

export type StoredMessage = { seq: number; messageId: string; emitId: string; text: string; at: number }
export type BotMessage = { id: string; text: string; at: number; replyTo: string }
export type ToolRun = { requestId: string; tool: string; result: Record<string, unknown>; at: number }
export type LogLine = { at: number; kind: 'applied' | 'replayed' | 'rejected' | 'fault' | 'auth'; text: string }

export type Counters = {
  /** Event requests that reached the server, by event name (retries and replays included). */
  requests: Record<string, number>
  /** `apply` calls, by event name: what actually happened once. */
  applied: Record<string, number>
  /** `apply` calls per messageId; anything above 1 would be a duplicate message. */
  messageApplies: Record<string, number>
  /** Connections cut while offline or blackholed. */
  cut: number
  /** Events applied whose answer was then dropped. */
  acksDropped: number
  /** Error answers injected instead of applying. */
  injected: number
  /** 401 answers to a stale or missing token while "token expired" is on. */
  unauthorized: number
  /** Tokens issued by `POST /api/session`. */
  signIns: number
  /** Event requests that reached the server, by who sent them (whatever became of them). */
  requestsBySender: Record<Sender, number>
  /** Events applied, by who sent them. */
  bySender: Record<Sender, number>
}

/** `GET /api/state?user=…`: one user's world as the server sees it. */
export type ServerView = {
  user: string
  now: number
  faults: Faults
  /** Applied messages, in the order they were applied (the last 200). */
  messages: StoredMessage[]
  bot: BotMessage[]
  /** The last bot message the user's read receipts reached. */
  lastRead: string | undefined
  unread: number
  readReceipts: number
  typing: { events: number; typing: boolean; at: number | undefined }
  tools: ToolRun[]
  toolExecutions: number
  aborted: string[]
  counters: Counters
  /** Events applied from requests no open page sent, newest last (the last 50). */
  late: LateDelivery[]
  log: LogLine[]
}

/** `POST /api/session` `{ user }`: a fresh token, valid whatever "token expired" says until it is switched on again. */
export type SessionAnswer = { token: string }

/** `POST /api/control`: change one user's faults, or forget everything the server knows of them. */
export type ControlRequest = { user: string; faults?: Partial<Faults>; reset?: boolean }
