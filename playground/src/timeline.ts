import type { ChatEntry } from './chat-client.ts'
import type { BotMessage } from './protocol.ts'

export type Row =
  | { kind: 'mine'; key: string; at: number; entry: ChatEntry }
  | { kind: 'bot'; key: string; at: number; bot: BotMessage }

/** The chat as the page shows it: what this user sent (with statuses) and the bot's replies, by time. */
export function timeline(entries: readonly ChatEntry[], bot: readonly BotMessage[] = []): Row[] {
  const rows: Row[] = [
    ...entries.map(
      (entry): Row => ({
        kind: 'mine',
        // Keyed by the messageId / requestId, so a re-send under a new emitId keeps its row.
        key: entry.kind === 'message' ? entry.messageId : entry.requestId,
        at: entry.at,
        entry,
      }),
    ),
    ...bot.map((b): Row => ({ kind: 'bot', key: b.id, at: b.at, bot: b })),
  ]
  return rows.sort((a, b) => a.at - b.at)
}

/** Bot messages after `readUpTo` (all of them when nothing was read). */
export function unreadBots(bot: readonly BotMessage[] = [], readUpTo: string | undefined): BotMessage[] {
  const index = readUpTo === undefined ? -1 : bot.findIndex((b) => b.id === readUpTo)
  return bot.slice(index + 1)
}
