/**
 * The chaos page: bundled with esbuild (with `@outbox/core` from source) and served by the fault
 * proxy. It starts a persistent outbox for `?key=` at once, so a reload starts it again, and exposes
 * `window.chaos`, a driver the harness calls through `page.evaluate`.
 */
import { createOutbox, type DeliveryError, httpTransport, type Transport } from '@outbox/core'

const params = new URLSearchParams(location.search)
const key = params.get('key') ?? 'chaos'
const slot = params.get('slot') ?? '0'
const batch = params.get('batch') === '1'
const beacons = params.get('beacons') !== '0'

// Requests this page made (only the tab that sends for its key makes any): for the drain report.
const sent = { count: 0, lastAt: 0 }
// Page-hide beacons are `fetch` calls with `keepalive`; tag them so the server can tell them apart.
const realFetch = window.fetch.bind(window)
window.fetch = (input, init) => {
  sent.count++
  sent.lastAt = Date.now()
  return init?.keepalive
    ? realFetch(input, { ...init, headers: { ...(init.headers as Record<string, string>), 'x-beacon': '1' } })
    : realFetch(input, init)
}

const http = httpTransport({
  url: '/events',
  batch: batch ? { maxItems: 8 } : false,
  timeoutMs: 2000,
  headers: { 'x-client': `${key}/${slot}` },
})
// `--no-beacons` runs without the page-hide keepalive path (see README: it breaks lane order).
const transport: Transport = beacons ? http : { maxBatch: http.maxBatch, send: (b, s) => http.send(b, s) }

const outbox = createOutbox({
  transport,
  mode: 'persistent',
  persistenceKey: key,
  retry: { baseMs: 30, maxMs: 400 },
  breaker: { threshold: 8, cooldownMs: 300 },
})

// A trace of what this page did and heard, read by the harness from the console (it outlives a
// reload or a crash): IndexedDB writes, messages between the tabs, settlements. Printed for the items
// involved when the tabs do not drain or disagree.
const trace = (line: string) => console.debug(`chaostrace ${line}`)
const keyText = (k: unknown) => (k instanceof IDBKeyRange ? `${String(k.lower)}..${String(k.upper)}` : String(k))
const realPut = IDBObjectStore.prototype.put
IDBObjectStore.prototype.put = function (value, k) {
  trace(`idb put ${keyText(k)} ${(value as { item?: { status?: string } })?.item?.status ?? '?'}`)
  return realPut.call(this, value, k)
}
const realDelete = IDBObjectStore.prototype.delete
IDBObjectStore.prototype.delete = function (k) {
  trace(`idb delete ${keyText(k)}`)
  return realDelete.call(this, k)
}
const listener = new BroadcastChannel(`outbox:${key}`)
listener.onmessage = ({ data }) => {
  const d = data as Record<string, unknown>
  const ids = (list: unknown) => (Array.isArray(list) ? list.map((x) => (Array.isArray(x) ? x[0] : x)).join(' ') : '')
  if (d.t === 'delta') trace(`heard delta puts ${ids(d.puts)} deletes ${ids(d.deletes)}`)
  else if (d.t === 'news')
    trace(
      `heard news ${((d.notices as Array<{ kind: string; emitId?: string; envelope?: { emitId: string } }>) ?? []).map((n) => `${n.kind}:${n.emitId ?? n.envelope?.emitId}`).join(' ')} sent ${ids(d.sent)}`,
    )
  else trace(`heard ${JSON.stringify(d).slice(0, 200)}`)
}

const errors: DeliveryError[] = []
const pageErrors: string[] = []
let ready = false
outbox.on('outbox:error', ({ error }) => errors.push(error))
addEventListener('error', (e) => pageErrors.push(String(e.error ?? e.message)))
addEventListener('unhandledrejection', (e) => pageErrors.push(String(e.reason)))
outbox.on('outbox:acked', ({ envelope }) => trace(`acked ${envelope.emitId}`))
outbox.on('outbox:failed', ({ envelope }) => trace(`failed ${envelope.emitId}`))
outbox.on('outbox:dropped', ({ envelope, reason }) => trace(`dropped ${envelope.emitId} ${reason}`))
outbox.on('outbox:error', ({ error }) => trace(`error ${error.kind}: ${error.message}`))
trace(`start ${location.search}`)
outbox.ready.then(() => {
  ready = true
  trace(`ready, ${outbox.size.peek()} pending, ${outbox.failed.peek().length} failed`)
})

/** Whether this page holds the outbox's lock: its own probe lock tells it its client id. */
const leads = async (): Promise<string> => {
  if (typeof navigator.locks?.query !== 'function') return 'unknown'
  const probe = `chaos-probe:${Math.random()}`
  return navigator.locks.request(probe, async () => {
    const { held = [] } = await navigator.locks.query()
    const self = held.find((l) => l.name === probe)?.clientId
    const holder = held.find((l) => l.name === `outbox:${key}`)?.clientId
    return holder === undefined ? 'nobody' : holder === self ? 'yes' : 'no'
  })
}

let db: Promise<IDBDatabase> | undefined
const openDb = (): Promise<IDBDatabase> =>
  (db ??= new Promise((resolve, reject) => {
    // As idb-keyval's createStore opens it: version 1 with one object store, `items`.
    const request = indexedDB.open(`outbox:${key}`)
    request.onupgradeneeded = () => request.result.createObjectStore('items')
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  }))

const readAll = async (): Promise<Array<[string, unknown]>> => {
  const database = await openDb()
  return new Promise((resolve, reject) => {
    const tx = database.transaction('items', 'readonly')
    const store = tx.objectStore('items')
    const keys = store.getAllKeys()
    const values = store.getAll()
    tx.oncomplete = () => resolve(keys.result.map((k, i) => [String(k), values.result[i]]))
    tx.onerror = () => reject(tx.error)
  })
}

const PENDING = new Set(['queued', 'sending', 'waiting'])

const chaos = {
  key,
  slot,
  isReady: () => ready,
  /** Emits messages; returns their emitIds in emit order. */
  emit(list: Array<{ lane: string; seq: number; reject: boolean }>): string[] {
    return list.map(({ lane, seq, reject }) => {
      const payload: Record<string, unknown> = { chatId: lane, seq, text: `tab ${slot} says ${seq}` }
      if (reject) payload.reject = true
      const { emitId } = outbox.emit('user:message', payload)
      trace(`emit ${emitId} ${lane}`)
      return emitId
    })
  },
  /**
   * Waits until each id is stored in IndexedDB or settled (no longer pending here); returns the
   * ids confirmed within `timeoutMs`.
   */
  async confirm(ids: string[], timeoutMs = 5000): Promise<string[]> {
    const confirmed = new Set<string>()
    const deadline = Date.now() + timeoutMs
    while (confirmed.size < ids.length && Date.now() < deadline) {
      const stored = new Set((await readAll()).map(([k]) => k))
      for (const id of ids) if (stored.has(id) || !PENDING.has(outbox.status(id).peek() as string)) confirmed.add(id)
      if (confirmed.size < ids.length) await new Promise((r) => setTimeout(r, 20))
    }
    return [...confirmed]
  },
  state() {
    return {
      size: outbox.size.peek(),
      online: outbox.online.peek(),
      breaker: outbox.breaker.peek(),
      pending: outbox.pending.peek().map((i) => ({ emitId: i.emitId, status: i.status, attempts: i.attempts })),
      failed: outbox.failed.peek().map((f) => ({ emitId: f.emitId, kind: f.error.kind, code: f.error.code })),
    }
  },
  /** Stored records that are not failed items (what still has to be delivered for this key). */
  async storedPending(): Promise<number> {
    return (await readAll()).filter(([, v]) => (v as { item?: { status?: string } })?.item?.status !== 'failed').length
  },
  /** For a report when the tabs do not drain: what this tab holds, what is stored, who holds the lock. */
  async diagnose() {
    const stored = new Map(await readAll())
    const locks = typeof navigator.locks?.query === 'function' ? await navigator.locks.query() : undefined
    return {
      pending: outbox.pending.peek().map((i) => {
        const record = stored.get(i.emitId) as { item?: { status?: string; attempts?: number } } | undefined
        return `${i.emitId} ${i.event} ${i.lane} ${i.status}/${i.attempts} stored ${record ? `${record.item?.status}/${record.item?.attempts}` : 'no'}`
      }),
      breaker: outbox.breaker.peek(),
      online: outbox.online.peek(),
      stored: stored.size,
      leads: await leads(),
      requests: `${sent.count}, the last ${sent.lastAt ? `${Date.now() - sent.lastAt} ms ago` : 'never'}`,
      locks: locks
        ? `held ${(locks.held ?? []).map((l) => l.name).join(',')} waiting ${(locks.pending ?? []).map((l) => l.name).join(',')}`
        : 'no Web Locks',
      failed: outbox.failed.peek().map((f) => f.emitId),
      storedFailed: [...stored]
        .filter(([, v]) => (v as { item?: { status?: string } })?.item?.status === 'failed')
        .map(([k]) => k),
      errors: errors.slice(-3).map((e) => `${e.kind}: ${e.message}`),
    }
  },
  errors: () => errors.slice(),
  pageErrors: () => pageErrors.slice(),
}

declare global {
  interface Window {
    chaos: typeof chaos
  }
}

window.chaos = chaos
