/**
 * Where durable items live between sessions. One record per item, keyed by `emitId`; `write`
 * applies its puts and deletes in one transaction.
 */
export interface OutboxStorage {
  /** Every stored record, in key (emitId) order. */
  load(): Promise<Array<[key: string, value: unknown]>>
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
    async write(puts, deletes) {
      for (const [key, value] of puts) records.set(key, structuredClone(value))
      for (const key of deletes) records.delete(key)
    },
    async clear() {
      records.clear()
    },
  }
}
