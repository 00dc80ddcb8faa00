import {
  createOutbox,
  type DeliveryStatus,
  type EmitOptions,
  httpTransport,
  type NetworkMonitor,
  type Outbox,
  type OutboxOptions,
  type Transport,
} from '@outbox/core'
import { directSend } from './direct-send.ts'
import { SENDER_HEADER } from './protocol.ts'
import {
  type ChatEntry,
  createSentLog,
  type DirectStatus,
  type EntryBase,
  type KeyValueStorage,
  type MessageEntry,
  type ToolEntry,
} from './sent-log.ts'
import { createSession, type Session } from './session.ts'
import { type Readable, writable } from './store.ts'
import { shortId, ulid } from './ulid.ts'

export type { ChatEntry, DirectStatus, MessageEntry, ToolEntry } from './sent-log.ts'

/** A status a chat row shows: the outbox's, `lost` for a direct send that failed, `cancelled` for an aborted tool call. */
export type EntryStatus = DeliveryStatus | 'lost' | 'cancelled'

/** Outbox options the client takes; the transport and network come from the client. */
export type OutboxSettings = Omit<OutboxOptions, 'transport' | 'network'>

export type ChatClientOptions = {
  userId: string
  /** Default `'general'`. */
  chatId?: string
  /** Default `'/api/events'`; `?user=<userId>` is appended. */
  url?: string
  /** Default: the browser's online/offline events. */
  network?: NetworkMonitor
  /** Passed to `createOutbox` by `enableOutbox()`; see `defaultOutboxSettings`. */
  outbox?: OutboxSettings
  /** Where the sent entries are kept across reloads; default `localStorage`, `null` for nowhere. */
  storage?: KeyValueStorage | null
  /** Where the client signs in (again); default: `url` with `/events` replaced by `/session`. */
  sessionUrl?: string
  /** How long signing in again takes, so the page can show it; default 1_200 ms. */
  signInDelayMs?: number
}

/** Lanes: a chat's messages and read receipts keep their order; the others never wait for them. */
export const LANES = { typing: 'typing', tools: 'tools', control: 'control' } as const

/** Quick retries for a demo, a breaker that opens after 6 failures in a row for 8 s. */
export const defaultOutboxSettings = (userId: string): OutboxSettings => ({
  mode: 'persistent',
  persistenceKey: `playground:${userId}`,
  retry: { baseMs: 500, maxMs: 5_000 },
  breaker: { threshold: 6, cooldownMs: 8_000 },
})

/**
 * The page's transport: `httpTransport` with the session's token, computed per send. The
 * last-chance sends of a page going away (`fetchLater`, `keepalive` on page hide) go through
 * transports of their own that mark them in `x-outbox-sender`, so the server can tell them from an
 * open page's requests ("delivered after the tab closed").
 */
export function chatTransport(url: string, session: Session): Transport {
  const live = httpTransport({ url, timeoutMs: 8_000, headers: () => session.headers() })
  // Never used to send, so each beacon asks `headers` afresh: the token of the moment.
  const lastChance = (sender: 'fetch-later' | 'keepalive') =>
    httpTransport({ url, headers: () => ({ ...session.headersNow(), [SENDER_HEADER]: sender }) })
  const later = lastChance('fetch-later')
  const keepalive = lastChance('keepalive')
  return {
    maxBatch: live.maxBatch,
    send: (batch, signal) => live.send(batch, signal),
    deferredRequests: (envelopes) => later.deferredRequests?.(envelopes) ?? [],
    sendBeacon: (groups) => keepalive.sendBeacon?.(groups),
  }
}

/**
 * A chat connection in the shape of the seed's `AIChatSocket`, with every client-to-server event
 * going through an `@outbox/core` outbox: messages and read receipts kept and delivered in order,
 * typing coalesced, tool calls keyed by `requestId`. `disableOutbox()` shows the difference: each
 * event is then one plain request, lost when the network fails.
 */
export function createChatClient(options: ChatClientOptions) {
  const userId = options.userId
  const chatId = options.chatId ?? 'general'
  // The user rides in the URL, not a header: page-hide keepalive requests reuse the URL, but carry
  // headers only once the transport has made a request in this session.
  const url = `${options.url ?? '/api/events'}?user=${encodeURIComponent(userId)}`
  const network = options.network
  const storage = options.storage === undefined ? globalThis.localStorage : options.storage
  const readKey = `playground:${userId}:read`
  const base = { ...defaultOutboxSettings(userId), ...options.outbox }
  const session = createSession(userId, {
    url: options.sessionUrl ?? (options.url ?? '/api/events').replace(/\/events$/, '/session'),
    ...(options.signInDelayMs === undefined ? {} : { signInDelayMs: options.signInDelayMs }),
  })
  const transport = chatTransport(url, session)

  const log = createSentLog(storage, userId)
  const { patch } = log
  const readUpTo = writable<string | undefined>(storage?.getItem(readKey) ?? undefined)
  const keystrokes = writable(0)
  const enabled = writable(false)
  /** Counts the outboxes made so far, so views can re-create themselves for a new one. */
  const generation = writable(0)
  let current: Outbox | undefined
  let stopListening: Array<() => void> = []
  const outbox = writable<Outbox>(undefined as unknown as Outbox)

  readUpTo.subscribe((id) => (id === undefined ? storage?.removeItem(readKey) : storage?.setItem(readKey, id)))

  const listen = (box: Outbox) => [
    box.on('outbox:acked', ({ envelope, ack }) => patch(envelope.emitId, (entry) => ({ ...entry, ack }))),
    // A message the user discarded leaves the chat; a cancelled tool call stays, marked.
    box.on('outbox:dropped', ({ envelope, reason }) => {
      if (reason === 'discarded') patch(envelope.emitId, (entry) => (entry.kind === 'tool' ? entry : undefined))
    }),
    // Typing is ephemeral: one that failed for good (a 403, say) is not worth a Retry button.
    box.on('outbox:failed', ({ envelope }) => {
      if (envelope.event.startsWith('typing')) box.discard(envelope.emitId)
    }),
  ]

  /**
   * Entries whose outbox item is gone without an ack were emitted just before the page went away,
   * before storage committed them: they go again under their messageId / requestId, which the
   * server deduplicates.
   */
  const recover = (box: Outbox) => {
    for (const entry of log.all()) {
      if (
        entry.ack ||
        entry.direct ||
        (entry.kind === 'tool' && entry.abort) ||
        box.status(entry.emitId).peek() !== 'unknown'
      )
        continue
      resend(entry)
    }
  }

  /** With the outbox off: one plain request, its fate written on the entry. */
  const direct = (event: string, payload: Record<string, unknown>, lane: string): string => {
    const emitId = ulid()
    const settle = (status: DirectStatus, ack?: Record<string, unknown>) =>
      patch(emitId, (entry) => ({ ...entry, direct: status, ...(ack ? { ack } : {}) }))
    if (network && !network.online) queueMicrotask(() => settle('lost'))
    else
      void session
        .headers()
        .then((headers) => directSend(url, { emitId, event, payload, lane, createdAt: Date.now() }, headers))
        .then((result) => (result.status === 'sent' ? settle('sent', result.ack) : settle('lost')))
    return emitId
  }

  const send = (event: string, payload: Record<string, unknown>, lane: string, opts?: EmitOptions): string => {
    if (current && enabled.get()) return current.emit(event, payload, { ...opts, lane }).emitId
    return direct(event, payload, lane)
  }

  const sendMessage = (p: { text: string; messageId?: string }): MessageEntry => {
    const messageId = p.messageId ?? shortId('m')
    typingStop()
    const emitId = send('user:message', { chatId, messageId, userId, text: p.text }, chatId)
    const entry: MessageEntry = { kind: 'message', emitId, at: Date.now(), messageId, text: p.text }
    if (!enabled.get()) entry.direct = 'sending'
    log.append(entry)
    return entry
  }

  const callTool = (p: { tool: string; args?: Record<string, unknown>; requestId?: string }): ToolEntry => {
    const requestId = p.requestId ?? shortId('req')
    const args = p.args ?? {}
    const emitId = send('tool:call', { chatId, requestId, tool: p.tool, args }, LANES.tools)
    const entry: ToolEntry = { kind: 'tool', emitId, at: Date.now(), requestId, tool: p.tool, args }
    if (!enabled.get()) entry.direct = 'sending'
    log.append(entry)
    return entry
  }

  /** Sends an entry again under a new emitId and the same messageId / requestId. */
  const resend = (entry: ChatEntry) => {
    const payload =
      entry.kind === 'message'
        ? { chatId, messageId: entry.messageId, userId, text: entry.text }
        : { chatId, requestId: entry.requestId, tool: entry.tool, args: entry.args }
    const emitId = send(
      entry.kind === 'message' ? 'user:message' : 'tool:call',
      payload,
      entry.kind === 'message' ? chatId : LANES.tools,
    )
    const direct: Partial<EntryBase> = enabled.get() ? {} : { direct: 'sending' }
    patch(entry.emitId, (e) => ({ ...e, emitId, ack: undefined, direct: undefined, ...direct }) as ChatEntry)
  }

  let idle: ReturnType<typeof setTimeout> | undefined
  function typingStop(who = userId) {
    if (idle === undefined) return
    clearTimeout(idle)
    idle = undefined
    send('typing:stop', { chatId, userId: who }, LANES.typing)
  }

  const client = {
    userId,
    chatId,
    /** The outbox in use; a closed one while switched off, a new one after `enableOutbox()`. */
    outbox: outbox as Readable<Outbox>,
    enabled: enabled as Readable<boolean>,
    generation: generation as Readable<number>,
    /** The sign-in whose token every event carries; the outbox's `onUnauthorized` refreshes it. */
    session,
    entries: log.entries,
    /** The last bot message this user marked read. */
    readUpTo: readUpTo as Readable<string | undefined>,
    /** Keystrokes typed, to compare with the typing events that reach the server. */
    keystrokes: keystrokes as Readable<number>,

    /** Routes every emit through a (new) outbox; items stored by an earlier one are picked up. */
    enableOutbox(settings?: OutboxSettings): Outbox {
      if (current && enabled.get()) return current
      const box = createOutbox({
        ...base,
        ...settings,
        transport,
        // A 401 holds every lane (nothing fails); once signed in again, sending resumes in order.
        onUnauthorized: () => session.refresh(),
        ...(network ? { network } : {}),
      })
      for (const stop of stopListening) stop()
      stopListening = listen(box)
      current = box
      generation.update((n) => n + 1)
      outbox.set(box)
      enabled.set(true)
      void box.ready.then(() => current === box && recover(box))
      return box
    },

    /**
     * Changes the outbox's settings (`backgroundSync`, say): the current outbox closes and a new
     * one with them picks up what it stored.
     */
    async reconfigure(settings: OutboxSettings): Promise<void> {
      Object.assign(base, settings)
      if (!current || !enabled.get()) return
      enabled.set(false)
      await current.close()
      client.enableOutbox()
    },

    /**
     * Closes the outbox (after sending what it can, with `flush`); later events go out as single
     * requests. Undelivered items stay stored for the next `enableOutbox()`.
     */
    async disableOutbox(flush = false): Promise<void> {
      if (!current || !enabled.get()) return
      enabled.set(false)
      await current.close({ flush })
    },

    sendMessage,

    /** Call on every keystroke: the outbox coalesces them; a stop follows after 2 s without typing. */
    typingStart(who = userId) {
      keystrokes.update((n) => n + 1)
      clearTimeout(idle)
      idle = setTimeout(() => typingStop(who), 2_000)
      send('typing:start', { chatId, userId: who }, LANES.typing)
    },
    typingStop,

    /** A read receipt up to bot message `upTo`: durable, so one made offline is replayed later. */
    markRead(p: { upTo: string }) {
      readUpTo.set(p.upTo)
      send('chat:read', { chatId, userId, upTo: p.upTo }, chatId)
    },

    /** A tool call the server must run exactly once: its `requestId` goes along as the dedupe key. */
    callTool,

    /**
     * Cancels a tool call: still in the outbox and not in flight, it is simply discarded; otherwise
     * a `tool:abort` goes out in its own lane, so it never waits behind a blocked one.
     */
    abort(p: { requestId: string; reason?: string }): 'discarded' | 'requested' | 'unknown' {
      const entry = log.all().find((e): e is ToolEntry => e.kind === 'tool' && e.requestId === p.requestId)
      if (!entry) return 'unknown'
      const status = current?.status(entry.emitId).peek()
      const outcome = status === 'queued' || status === 'waiting' || status === 'failed' ? 'discarded' : 'requested'
      patch(entry.emitId, (e) => ({ ...e, abort: outcome }))
      if (outcome === 'discarded') current?.discard(entry.emitId)
      else send('tool:abort', { requestId: p.requestId, reason: p.reason ?? 'cancelled by the user' }, LANES.control)
      return outcome
    },

    resend,

    /** The status a chat row shows for an entry, given the outbox's status for its emitId. */
    statusOf(entry: ChatEntry, status: DeliveryStatus): EntryStatus {
      if (entry.direct) return entry.direct === 'sent' ? 'delivered' : entry.direct === 'lost' ? 'lost' : 'sending'
      if (status === 'unknown' && entry.ack) return 'delivered'
      if (status === 'unknown' && entry.kind === 'tool' && entry.abort === 'discarded') return 'cancelled'
      return status
    },

    /** Forgets everything: the outbox's queue (stored copies too) and the sent entries. */
    async reset(): Promise<void> {
      await current?.clear()
      log.clear()
      readUpTo.set(undefined)
      keystrokes.set(0)
    },

    async close(): Promise<void> {
      clearTimeout(idle)
      log.dispose()
      for (const stop of stopListening) stop()
      await current?.close()
    },
  }

  client.enableOutbox()
  return client
}

export type ChatClient = ReturnType<typeof createChatClient>
