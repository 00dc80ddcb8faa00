/** One emit as the client that made it saw it. */
export type Emitted = {
  emitId: string
  lane: string
  /** Which outbox emitted it: a Node client id, or a browser persistence key. */
  owner: string
  source: 'node' | 'browser'
  durable: boolean
  /** The payload carries `reject: true`: the server refuses it as a hard error. */
  reject: boolean
  /**
   * Known to be stored or delivered. Node clients: always (memory mode keeps it in the process;
   * persistent Node clients close before they restart). Browser tabs: once the page saw the record
   * in IndexedDB (or the item already settled); a tab reloaded before that may lose it, legitimately.
   */
  confirmed: boolean
}

/** Everything the clients emitted, and per lane the emit order. */
export function createLedger() {
  const items = new Map<string, Emitted>()
  const lanes = new Map<string, string[]>()
  let deduped = 0
  return {
    items,
    lanes,
    record(e: Emitted): void {
      if (items.has(e.emitId)) {
        deduped++
        return
      }
      items.set(e.emitId, e)
      const list = lanes.get(e.lane) ?? []
      list.push(e.emitId)
      lanes.set(e.lane, list)
    },
    confirm(emitId: string): void {
      const e = items.get(emitId)
      if (e) e.confirmed = true
    },
    deduped: () => deduped,
  }
}

export type Ledger = ReturnType<typeof createLedger>
