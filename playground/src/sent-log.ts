import { type Readable, writable } from './store.ts'

/** How an event sent with the outbox switched off fared: one attempt, nothing kept. */
export type DirectStatus = 'sending' | 'sent' | 'lost'

export type EntryBase = {
  emitId: string
  at: number
  /** The server's ack, kept with the entry: the outbox remembers acks only in memory. */
  ack?: Record<string, unknown>
  /** Set when sent with the outbox switched off. */
  direct?: DirectStatus
}

export type MessageEntry = EntryBase & { kind: 'message'; messageId: string; text: string }

export type ToolEntry = EntryBase & {
  kind: 'tool'
  requestId: string
  tool: string
  args: Record<string, unknown>
  /** `discarded`: cancelled before it left the outbox; `requested`: a `tool:abort` was sent. */
  abort?: 'discarded' | 'requested'
}

/** What this user sent, in send order; the page's chat renders it with each item's status. */
export type ChatEntry = MessageEntry | ToolEntry

export type KeyValueStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>

/**
 * What this user sent, kept in `storage` (localStorage) across reloads: the outbox remembers acks
 * only in memory, and a reloaded page should still show ✓ on what was delivered before. Other
 * tabs of the same user see changes through the `storage` event.
 */
export function createSentLog(storage: KeyValueStorage | null, userId: string) {
  const key = `playground:${userId}:entries`
  const entries = writable<readonly ChatEntry[]>(load(storage, key))
  entries.subscribe((list) => storage?.setItem(key, JSON.stringify(list)))
  const onStorage = (event: StorageEvent) => {
    if (event.key === key && storage) entries.set(load(storage, key))
  }
  globalThis.addEventListener?.('storage', onStorage)

  return {
    entries: entries as Readable<readonly ChatEntry[]>,
    all: () => entries.get(),
    append(entry: ChatEntry) {
      entries.update((list) => [...list, entry])
    },
    /** Replaces the entry with `emitId` by `change(entry)`, or removes it when that is undefined. */
    patch(emitId: string, change: (entry: ChatEntry) => ChatEntry | undefined) {
      entries.update((list) =>
        list.flatMap((entry) => {
          if (entry.emitId !== emitId) return [entry]
          const next = change(entry)
          return next ? [next] : []
        }),
      )
    },
    clear() {
      entries.set([])
    },
    dispose() {
      globalThis.removeEventListener?.('storage', onStorage)
    },
  }
}

function load(storage: KeyValueStorage | null, key: string): ChatEntry[] {
  try {
    const value = JSON.parse(storage?.getItem(key) ?? '[]') as unknown
    return Array.isArray(value) ? (value as ChatEntry[]) : []
  } catch {
    return []
  }
}
