import type { ReadonlySignal } from '@preact/signals-core'

/** Semantic keys used to dedupe emits (`messageId` for chat messages, `requestId` for tool calls). */
export type EmitKeys = { messageId?: string; requestId?: string }

/** What `emit` records and the transport sends. `emitId` is the idempotency key. */
export type EmitEnvelope<P = Record<string, unknown>> = {
  /** Monotonic ULID from this outbox; the idempotency key. */
  emitId: string
  /** Event name, e.g. `'user:message'`, `'chat:read'`, `'typing:start'`. */
  event: string
  /** JSON-serializable payload. */
  payload: P
  /** Semantic keys for dedupe. */
  keys?: EmitKeys
  /** Ordering lane: items of one lane are delivered strictly in emit order. */
  lane: string
  /** Milliseconds since the epoch. */
  createdAt: number
}

/** Why a delivery failed, classified for retry and for the UI. */
export type DeliveryError = {
  kind: 'http' | 'network' | 'rejected' | 'invalid-ack' | 'expired' | 'storage'
  /** HTTP status, or the server's `{ ok: false, code }`. */
  code?: number | string
  message: string
  retryable: boolean
  /** Remediation for the UI, e.g. `'Sign in again and retry.'` */
  hint?: string
}

/** A pending item: queued, in flight (`sending`) or backing off (`waiting`). */
export type OutboxItem = EmitEnvelope & {
  status: 'queued' | 'sending' | 'waiting'
  attempts: number
  nextAttemptAt?: number
  lastError?: DeliveryError
}

/** An item that failed terminally; it stays until retried or discarded. */
export type FailedItem = EmitEnvelope & { status: 'failed'; attempts: number; error: DeliveryError }

export type BreakerState = 'closed' | 'open' | 'half-open'

/** A snapshot of the whole outbox, as `subscribe` delivers it. */
export type OutboxState = {
  /** Emit order. */
  pending: readonly OutboxItem[]
  failed: readonly FailedItem[]
  /** `pending.length` */
  size: number
  online: boolean
  breaker: BreakerState
  /** When an open breaker lets its probe through (ms since epoch); absent unless open. */
  breakerRetryAt?: number
  paused: boolean
  /** `'required'` after a 401: sending waits for `onUnauthorized()` or `resume()`. */
  auth: AuthState
}

/** Whether the server accepts this outbox's credentials (see `onUnauthorized`). */
export type AuthState = 'ok' | 'required'

/** A transport's answer for one envelope. */
export type DeliveryResult =
  | { emitId: string; ok: true; ack: Record<string, unknown> }
  | { emitId: string; ok: false; error: DeliveryError; retryAfterMs?: number }

/** Sends envelopes to the server. A transport that throws fails the whole call as a retryable network error. */
export interface Transport {
  send(batch: readonly EmitEnvelope[], signal: AbortSignal): Promise<readonly DeliveryResult[]>
  /** Most envelopes one `send` accepts; default 1. */
  readonly maxBatch?: number
  /**
   * Best-effort sends that outlive the page (`fetch` with `keepalive`), used on page hide: one
   * request per group, each group one lane's next items (at most `maxBatch`), within the browser's
   * keepalive budget.
   */
  sendBeacon?(groups: ReadonlyArray<readonly EmitEnvelope[]>): void
  /**
   * The requests that would deliver these envelopes (pending, in emitId order) after the page is
   * gone, for `fetchLater`: the first ones matter most, and each may go out alongside the others,
   * so none may carry an item whose lane has an earlier item in another. Absent: the transport
   * cannot build one (sockets, custom transports).
   */
  deferredRequests?(envelopes: readonly EmitEnvelope[]): DeferredRequest[]
}

/** A request ready to be handed to the browser (`fetchLater`), plain data. */
export type DeferredRequest = { url: string; method: string; headers: Record<string, string>; body?: string }

/** Reports connectivity. `online` is a hint: a network error while online still backs off. */
export interface NetworkMonitor {
  readonly online: boolean
  subscribe(listener: (online: boolean) => void): () => void
}

/** Time source and timers, injectable so tests run on fake time. */
export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export type RetryOptions = {
  /** Default 400. */
  baseMs?: number
  /** Default 10_000. */
  maxMs?: number
  /** Default 2. */
  factor?: number
  /** ±25% spread; default true. */
  jitter?: boolean
  /** Transport calls per item; default Infinity. */
  maxAttempts?: number
  /** Measured from `createdAt`; older undelivered items fail as `'expired'`. Default Infinity. */
  maxAgeMs?: number
  /** Statuses that fail at once. Default: every 4xx except 401 (see `onUnauthorized`), 408, 409, 425, 429; plus 501. */
  hardErrorCodes?: number[]
}

/**
 * The circuit breaker is for a server that is down, not for one that is flaky: it opens when
 * `threshold` transport calls in a row have failed retryably with no answer from the server in
 * between (an ack or a terminal error resets the count), from at least two lanes unless only one
 * has items, over at least a second. While open nothing is sent; each cooldown ends with one probe.
 */
export type BreakerOptions = {
  /** Failed calls in a row, across lanes and with no answer between, that open the breaker. Default 10. */
  threshold?: number
  /**
   * The longest cooldown. The first is 1 s (or this, if shorter) and it doubles after each failed
   * probe, up to this; a `Retry-After` among the failures that opened it holds it open at least
   * that long. Default 30_000.
   */
  cooldownMs?: number
}

export type CoalesceOptions = {
  /** How long `typing*` events are held before they become sendable. Default 300. */
  typingWindowMs?: number
  /** Default `ttlMs` of `typing*` events. Default 5_000. */
  dropStaleTypingMs?: number
}

export type OutboxOptions = {
  transport: Transport
  /** Default `'memory'`. */
  mode?: 'memory' | 'persistent'
  /** Default `'outbox'`. */
  persistenceKey?: string
  /**
   * Pages, persistent mode: when durable items stay undelivered (offline, a network failure, the
   * page hides), registers the Background Sync tag `syncTag(persistenceKey)` on the active service
   * worker registration, whose `sync` handler calls `drainOutbox`. Default false.
   */
  backgroundSync?: boolean
  /** Default 10_000 pending items. */
  maxSize?: number
  retry?: RetryOptions
  breaker?: BreakerOptions
  coalesce?: CoalesceOptions
  /** Default: `payload.chatId ?? payload.streamId ?? 'default'`. */
  lane?: (event: string, payload: Record<string, unknown>) => string
  /** Lanes in flight at once; default 4. */
  concurrency?: number
  /** Default: the browser's `online`/`offline` events, or always online without a window. */
  network?: NetworkMonitor
  /** Injectable time (tests). Default: `Date.now` and the global timers. */
  clock?: Clock
  /** Advanced: where `mode: 'persistent'` keeps items. Default: IndexedDB through idb-keyval. */
  storage?: import('./storage.ts').OutboxStorage
  /** Injectable randomness in [0, 1) for jitter and ULIDs (tests). Default `Math.random`. */
  random?: () => number
  /**
   * Advanced: the surroundings the engine runs in (timers, online hint, page lifecycle, the channel
   * between outboxes of one key and the sender lock). Default: `browserHost(options)`, which fits
   * pages and workers alike.
   */
  host?: import('./host.ts').Host
  /**
   * Called once per episode when the server answers 401 (unless 401 is in `retry.hardErrorCodes`):
   * sending stops on every lane, nothing fails or moves; when the returned promise resolves (a
   * refreshed token: headers are computed per send), sending resumes. Rejected or not given:
   * sending waits for `resume()` or `flush()`.
   */
  onUnauthorized?: () => unknown
}

export type EmitOptions = {
  /** Default: `payload.messageId` / `payload.requestId`. */
  keys?: EmitKeys
  lane?: string
  /** A later emit with the same key replaces this one while it is not yet sent. */
  coalesceKey?: string
  /** Dropped (`'stale'`) instead of sent when older than this at its turn. */
  ttlMs?: number
  /** Default true; false: never persisted. */
  durable?: boolean
}

export type DropReason = 'coalesced' | 'stale' | 'discarded'

export type OutboxEvents = {
  'outbox:update': { size: number; head?: EmitEnvelope }
  'outbox:failed': { envelope: EmitEnvelope; error: DeliveryError }
  'outbox:flushed': undefined
  'outbox:acked': { envelope: EmitEnvelope; ack: Record<string, unknown> }
  'outbox:dropped': { envelope: EmitEnvelope; reason: DropReason }
  'outbox:error': { error: DeliveryError }
  /** A 401 stopped sending on every lane; `envelope` is the item that got it (it stays at its lane's head). */
  'outbox:unauthorized': { envelope: EmitEnvelope }
}

/** An item's delivery status, as a per-message tick shows it. */
export type DeliveryStatus = OutboxItem['status'] | 'failed' | 'delivered' | 'unknown'

export interface Outbox {
  /** Persisted items loaded (resolves at once in memory mode). */
  readonly ready: Promise<void>
  /** Validates, stamps and queues an event; synchronous. Throws `OutboxError`s and queues nothing on bad input. */
  emit(event: string, payload: Record<string, unknown>, options?: EmitOptions): EmitEnvelope
  readonly pending: ReadonlySignal<readonly OutboxItem[]>
  readonly failed: ReadonlySignal<readonly FailedItem[]>
  readonly size: ReadonlySignal<number>
  readonly online: ReadonlySignal<boolean>
  readonly breaker: ReadonlySignal<BreakerState>
  /** `'required'` while a 401 holds sending (until `onUnauthorized()` resolves, `resume()` or `flush()`). */
  readonly auth: ReadonlySignal<AuthState>
  /** The whole state as one signal. */
  readonly state: ReadonlySignal<OutboxState>
  /** Svelte store contract: `run` is called at once, then once per batch of changes. */
  subscribe(run: (state: OutboxState) => void): () => void
  on<K extends keyof OutboxEvents>(
    event: K,
    fn: OutboxEvents[K] extends undefined ? () => void : (e: OutboxEvents[K]) => void,
  ): () => void
  /** Resolves with the server's ack; rejects on terminal failure or discard. */
  delivered(emitId: string): Promise<Record<string, unknown>>
  /** An item's status as a signal: queued, sending, waiting, failed, delivered, or unknown. */
  status(emitId: string): ReadonlySignal<DeliveryStatus>
  /** Pending items of one lane (one chat), as a signal. */
  lane(lane: string): ReadonlySignal<readonly OutboxItem[]>
  /** Sends now, skipping backoff waits; settles when nothing more can be sent. */
  flush(): Promise<void>
  /** Moves a failed item (all, without an id) back into its lane with the same emitId. */
  retry(emitId?: string): void
  /** Removes a pending or failed item. */
  discard(emitId: string): void
  pause(): void
  resume(): void
  /** Forgets everything, persisted copies too (e.g. on sign-out). */
  clear(): Promise<void>
  /** Stops timers and listeners; flushes first if asked. */
  close(options?: { flush?: boolean }): Promise<void>
}
