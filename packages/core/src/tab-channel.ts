import { isRecord } from './guards.ts'
import type { Host, HostChannel } from './host.ts'
import type { StoredRecord } from './record.ts'
import type { RemoteNotice, SentNotice } from './settlement.ts'

/** What a follower asks of the tab that sends. */
export type Command = { op: 'discard' | 'retry'; emitId: string } | { op: 'retry-all' | 'clear' | 'flush' }

export type Delta = { puts: ReadonlyArray<readonly [string, unknown]>; deletes: readonly string[] }
export type News = { notices: RemoteNotice[]; sent: SentNotice[] }

/** A message to the other outboxes on the key. */
export type Message =
  | { t: 'changed' }
  | { t: 'sync' }
  | ({ t: 'delta' } & Delta)
  | ({ t: 'news' } & News)
  | { t: 'cmd'; cmd: Command }
  | { t: 'emit'; record: StoredRecord }
  | { t: 'here' }

/** How many settlements a sender that was alone keeps for a tab that turns up (see `post`). */
export const SKIPPED_NOTICES = 2048

/** What the other tabs on the key said; each handler gets a message whose shape was checked. */
export type TabHandlers = {
  /** Storage changed in ways no delta told: read it again. */
  changed(): void
  /** A tab started or is hiding: the sender reads storage again. */
  syncRequested(): void
  delta(delta: Delta): void
  news(news: News): void
  command(cmd: Command): void
  emit(record: unknown): void
}

/** The messages between the outboxes of one key: write deltas, the sender's news, commands. */
export interface TabChannel {
  /** False where the host has no channel: this outbox is alone by construction. */
  readonly connected: boolean
  post(message: Message): void
  /** Queues a settlement for the next news message (one per tick). */
  notice(notice: RemoteNotice): void
  /** Queues items that went in flight for the next news message. */
  sent(sent: readonly SentNotice[]): void
  /** A sender asks whether any other outbox is open on its key; none, and it stops posting. */
  checkAlone(): void
  close(): void
}

/**
 * Opens the channel between the outboxes on `key`. A sender that knows no other outbox is open
 * on its key (`SenderLock.others`) posts nothing: in the delivery loop, its one message per batch
 * cost about a tenth of the browser's time. The first message from another tab ends that; that
 * tab may have started reading storage before it was known, so it is sent the skipped
 * settlements, and told to read storage again for the rest.
 */
export function openTabChannel(
  host: Host,
  key: string,
  ctx: { leading(): boolean; others(): Promise<boolean>; handlers: TabHandlers },
): TabChannel {
  const channel: HostChannel | undefined = host.channel(`outbox:${key}`)
  let closed = false
  let alone = false
  /** Unset while nothing was skipped; else the settlements among what was (maybe none). */
  let skipped: RemoteNotice[] | undefined
  /** Messages heard from other tabs: a check begun before one of them arrived is stale. */
  let heard = 0

  const post = (message: Message) => {
    if (closed || !channel) return
    if (!alone) return channel.postMessage(message)
    skipped ??= []
    if (message.t === 'news') {
      skipped.push(...message.notices)
      if (skipped.length > SKIPPED_NOTICES) skipped.splice(0, skipped.length - SKIPPED_NOTICES)
    }
  }

  // What settles and what goes in flight in one tick (a batch acked, the next one sent) is one message.
  let news: Extract<Message, { t: 'news' }> | undefined
  const tell = () => {
    if (!news) {
      news = { t: 'news', notices: [], sent: [] }
      queueMicrotask(() => {
        post(news as Message)
        news = undefined
      })
    }
    return news
  }

  /** Another tab is open: a sender that thought itself alone posts again, and hands on what it skipped. */
  const heardFrom = () => {
    heard++
    if (!alone) return
    alone = false
    const missed = skipped
    skipped = undefined
    if (!missed) return
    if (missed.length > 0) post({ t: 'news', notices: missed, sent: [] })
    post({ t: 'changed' })
  }

  const dispatch = (data: unknown) => {
    if (!isRecord(data)) return
    const { handlers } = ctx
    if (data.t === 'changed') handlers.changed()
    else if (data.t === 'sync') handlers.syncRequested()
    else if (data.t === 'delta' && Array.isArray(data.puts) && Array.isArray(data.deletes))
      handlers.delta(data as unknown as Delta)
    else if (data.t === 'news' && Array.isArray(data.notices) && Array.isArray(data.sent))
      handlers.news(data as unknown as News)
    else if (data.t === 'cmd' && isRecord(data.cmd)) handlers.command(data.cmd as Command)
    else if (data.t === 'emit') handlers.emit(data.record)
  }

  if (channel)
    channel.onmessage = ({ data }: MessageEvent) => {
      heardFrom()
      dispatch(data)
    }

  return {
    connected: channel !== undefined,
    post,
    notice: (notice) => void tell().notices.push(notice),
    sent: (sent) => void tell().sent.push(...sent),
    checkAlone() {
      if (!ctx.leading() || alone || closed || !channel) return
      const asked = heard
      ctx.others().then(
        (others) => {
          if (!others && asked === heard && ctx.leading() && !closed) alone = true
        },
        () => {},
      )
    },
    close() {
      closed = true
      channel?.close()
    },
  }
}
