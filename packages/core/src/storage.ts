/**
 * Where durable items live between sessions. One record per item, keyed by `emitId`; `write`
 * applies its puts and deletes in one transaction.
 */
export interface OutboxStorage {
  /** Every stored record, in key (emitId) order. */
  load(): Promise<Array<[key: string, value: unknown]>>
  /** Up to `limit` records with keys after `after`, in key order: start-up reads in pages. */
  loadPage?(after: string | undefined, limit: number): Promise<Array<[key: string, value: unknown]>>
  write(puts: ReadonlyArray<readonly [key: string, value: unknown]>, deletes: readonly string[]): Promise<void>
  clear(): Promise<void>
}

/** An in-memory `OutboxStorage`: for tests, and for environments without IndexedDB. */
export function memoryStorage(
  records: Map<string, unknown> = new Map(),
): OutboxStorage & { records: Map<string, unknown> } {
  return {
    records,
    async load() {
      return [...records].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    },
    async loadPage(after, limit) {
      const all = await this.load()
      return all.filter(([key]) => after === undefined || key > after).slice(0, limit)
    },
    async write(puts, deletes) {
      for (const [key, value] of puts) records.set(key, structuredClone(value))
      for (const key of deletes) records.delete(key)
    },
    async clear() {
      records.clear()
    },
  }
}
