import { randomUUID } from 'node:crypto'
import { type ApplyResult, type Envelope, reject } from '@outbox/server'
import { summary } from '../src/format.ts'
import {
  type BotMessage,
  type Counters,
  type Faults,
  FORBIDDEN_WORD,
  type LateDelivery,
  type LogLine,
  NO_FAULTS,
  type Sender,
  type ServerView,
  type StoredMessage,
  type ToolRun,
} from '../src/protocol.ts'

const MAX_LOG = 60
const MAX_MESSAGES = 200
const MAX_LATE = 50

/** One user's chat as the server keeps it: what was applied, in order, and the fault switches. */
export type World = ReturnType<typeof createWorld>

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined)

const forbidden = new RegExp(`\\b${FORBIDDEN_WORD}\\b`, 'i')

const short = (text: string) => (text.length > 40 ? `${text.slice(0, 39)}…` : text)

export function createWorld(user: string, now: () => number = Date.now) {
  let faults: Faults = { ...NO_FAULTS }
  const messages: StoredMessage[] = []
  const bot: BotMessage[] = []
  const tools = new Map<string, ToolRun>()
  const aborted = new Set<string>()
  const log: LogLine[] = []
  const counters: Counters = {
    requests: {},
    applied: {},
    messageApplies: {},
    cut: 0,
    acksDropped: 0,
    injected: 0,
    unauthorized: 0,
    signIns: 0,
    requestsBySender: { page: 0, worker: 0, 'fetch-later': 0, keepalive: 0 },
    bySender: { page: 0, worker: 0, 'fetch-later': 0, keepalive: 0 },
  }
  const late: LateDelivery[] = []
  /** Each token issued, with the expiry epoch it was issued in; "token expired" on starts a new epoch. */
  const tokens = new Map<string, number>()
  let epoch = 0
  let seq = 0
  let lastRead: string | undefined
  let readReceipts = 0
  let toolExecutions = 0
  const typing = { events: 0, typing: false, at: undefined as number | undefined }
  let ackCounter = 0

  const note = (kind: LogLine['kind'], text: string) => {
    log.push({ at: now(), kind, text })
    if (log.length > MAX_LOG) log.shift()
  }
  const bump = (table: Record<string, number>, key: string) => {
    table[key] = (table[key] ?? 0) + 1
  }

  const applyMessage = (e: Envelope): ApplyResult => {
    const messageId = str(e.payload.messageId)
    const text = str(e.payload.text)
    if (!messageId || !text) return reject('bad-message', { message: 'A message needs a messageId and a text.' })
    bump(counters.messageApplies, messageId)
    // Semantic dedupe: the same messageId under a new emitId (a re-send) is answered, not stored again.
    const known = messages.find((m) => m.messageId === messageId)
    if (known) {
      note('replayed', `message “${short(text)}” again (same messageId): not stored twice`)
      return { messageId, seq: known.seq, duplicate: true }
    }
    if (forbidden.test(text)) {
      note('rejected', `message “${short(text)}”: contains “${FORBIDDEN_WORD}”`)
      return reject('blocked-word', {
        message: `Messages containing “${FORBIDDEN_WORD}” are not allowed in this chat.`,
        hint: `Remove “${FORBIDDEN_WORD}” and send it again, or discard this message.`,
      })
    }
    const stored: StoredMessage = { seq: ++seq, messageId, emitId: e.emitId, text, at: now() }
    messages.push(stored)
    if (messages.length > MAX_MESSAGES) messages.shift()
    bot.push({
      id: `bot-${stored.seq}`,
      text: `Got #${stored.seq}: “${short(text)}”`,
      at: now() + 1,
      replyTo: messageId,
    })
    if (bot.length > MAX_MESSAGES) bot.shift()
    note('applied', `message #${stored.seq} “${short(text)}”`)
    return { messageId, seq: stored.seq }
  }

  const applyRead = (e: Envelope): ApplyResult => {
    const upTo = str(e.payload.upTo)
    if (!upTo) return reject('bad-read', { message: 'A read receipt needs upTo.' })
    readReceipts++
    const index = bot.findIndex((b) => b.id === upTo)
    const current = bot.findIndex((b) => b.id === lastRead)
    if (index > current) lastRead = upTo
    note('applied', `read receipt up to ${upTo} (sent ${new Date(e.createdAt).toLocaleTimeString()})`)
    return { upTo, unread: unread() }
  }

  const applyTool = (e: Envelope): ApplyResult => {
    const requestId = str(e.payload.requestId)
    const tool = str(e.payload.tool)
    if (!requestId || !tool) return reject('bad-tool-call', { message: 'A tool call needs a requestId and a tool.' })
    if (aborted.has(requestId)) {
      note('rejected', `tool ${tool} (${requestId}): cancelled before it ran`)
      return reject('aborted', {
        message: 'This tool call was cancelled before it ran.',
        hint: 'Run the tool again if you still need it.',
      })
    }
    const done = tools.get(requestId)
    if (done) {
      note('replayed', `tool ${tool} (${requestId}) again: answered from its first run`)
      return { requestId, result: done.result, replayed: true }
    }
    // The side effect this demo guards: a ticket number that must not be handed out twice.
    toolExecutions++
    const result = { ticket: `T-${String(toolExecutions).padStart(4, '0')}` }
    tools.set(requestId, { requestId, tool, result, at: now() })
    note('applied', `tool ${tool} ran → ${result.ticket}`)
    return { requestId, result }
  }

  const applyAbort = (e: Envelope): ApplyResult => {
    const requestId = str(e.payload.requestId)
    if (!requestId) return reject('bad-abort', { message: 'An abort needs a requestId.' })
    if (tools.has(requestId)) {
      note('applied', `abort of ${requestId}: too late, it already ran`)
      return { requestId, tooLate: true }
    }
    aborted.add(requestId)
    note('applied', `abort of ${requestId}: it will not run`)
    return { requestId, cancelled: true }
  }

  const unread = () => {
    const index = bot.findIndex((b) => b.id === lastRead)
    return bot.length - (index + 1)
  }

  return {
    user,
    get faults() {
      return faults
    },
    setFaults(patch: Partial<Faults>) {
      // Switching "token expired" on expires every token issued so far.
      if (patch.tokenExpired && !faults.tokenExpired) epoch++
      faults = { ...faults, ...patch }
      note('fault', `faults: ${describeFaults(faults)}`)
    },
    counters,
    /** Counts a request that reached `/api/events`, by the events it carries and its sender. */
    received(events: string[], sender: Sender = 'page') {
      counters.requestsBySender[sender]++
      for (const event of events) bump(counters.requests, event)
    },
    /** Decides, for one answer, whether the ack is dropped (`dropAcks`). */
    dropThisAck(): boolean {
      if (faults.dropAcks === 'off') return false
      ackCounter++
      return faults.dropAcks === 'all' || ackCounter % 2 === 1
    },
    note,
    /** `POST /api/session`: a fresh token, valid until "token expired" is switched on again. */
    signIn(): string {
      const token = randomUUID()
      tokens.set(token, epoch)
      counters.signIns++
      note('auth', 'signed in: a fresh token')
      return token
    },
    /** Whether an event request with this bearer token may go on: any does while "token expired" is off. */
    authorized(token: string | undefined): boolean {
      if (!faults.tokenExpired) return true
      return token !== undefined && tokens.get(token) === epoch
    },
    /** Applies one event; `@outbox/server` calls this at most once per emitId. */
    apply(e: Envelope, sender: Sender = 'page'): ApplyResult {
      bump(counters.applied, e.event)
      counters.bySender[sender]++
      if (sender !== 'page') {
        late.push({ at: now(), emitId: e.emitId, event: e.event, what: summary(e.event, e.payload), sender })
        if (late.length > MAX_LATE) late.shift()
      }
      switch (e.event) {
        case 'user:message':
          return applyMessage(e)
        case 'chat:read':
          return applyRead(e)
        case 'typing:start':
        case 'typing:stop':
          typing.events++
          typing.typing = e.event === 'typing:start'
          typing.at = now()
          note('applied', e.event)
          return {}
        case 'tool:call':
          return applyTool(e)
        case 'tool:abort':
          return applyAbort(e)
        default:
          note('rejected', `unknown event ${e.event}`)
          return reject('unknown-event', { message: `This server does not know the event ${e.event}.` })
      }
    },
    view(): ServerView {
      return {
        user,
        now: now(),
        faults,
        messages: [...messages],
        bot: [...bot],
        lastRead,
        unread: unread(),
        readReceipts,
        typing: { ...typing },
        tools: [...tools.values()],
        toolExecutions,
        aborted: [...aborted],
        counters: structuredClone(counters),
        late: [...late],
        log: [...log],
      }
    },
  }
}

export function describeFaults(f: Faults): string {
  const parts: string[] = []
  if (f.offline) parts.push('offline')
  if (f.blackhole) parts.push('blackhole')
  if (f.status)
    parts.push(`answer ${f.status}${f.status === 429 || f.status === 503 ? ` (Retry-After ${f.retryAfterS}s)` : ''}`)
  if (f.dropAcks !== 'off') parts.push(`drop ${f.dropAcks === 'all' ? 'all' : 'every other'} ack`)
  if (f.slowMs) parts.push(`slow ${f.slowMs} ms`)
  if (f.tokenExpired) parts.push('token expired')
  return parts.length ? parts.join(', ') : 'none'
}
