import type { IdempotencyStore } from './idempotency-store.ts'

/** Semantic keys the client attaches for dedupe (`messageId`, `requestId`). */
export type EnvelopeKeys = { messageId?: string; requestId?: string } & Record<string, string | undefined>

/**
 * One event as the client sends it: the same shape as `EmitEnvelope` in `@outbox/core`, repeated
 * here so the server needs nothing at runtime. `emitId` is the idempotency key.
 */
export type Envelope<P = Record<string, unknown>> = {
  /** A ULID (26 upper-case Crockford base32 characters). */
  emitId: string
  /** Event name, e.g. `'user:message'`. */
  event: string
  payload: P
  keys?: EnvelopeKeys
  /** Ordering lane: the client sends one lane's events strictly in order. */
  lane: string
  /** Milliseconds since the epoch, stamped by the client. */
  createdAt: number
}

/** A successful answer: `{ ok: true, emitId, ...ids }`. */
export type Ack = { ok: true; emitId: string } & Record<string, unknown>

/**
 * A refusal the application chose (not an error): the client fails the item, or retries it when
 * `retryable` is true. `hint` is remediation text for the UI.
 */
export type Rejection = {
  ok: false
  code: string | number
  retryable?: boolean
  message?: string
  hint?: string
}

/** A rejection as it goes on the wire: it names the event it answers. */
export type WireRejection = Rejection & { emitId: string }

/** One answer on the wire, and what an `IdempotencyStore` keeps per key. */
export type AckResult = Ack | WireRejection

/** What `apply` may return: ids to merge into the ack (or nothing), or a rejection. */
export type ApplyResult = Record<string, unknown> | Rejection | undefined | void

/** Passed to `apply` with each envelope. */
export type ApplyContext<L = unknown> = {
  /** The HTTP request that carried the envelope (read auth headers here). */
  request: Request
  /** Whatever the caller passed as the handler's second argument (e.g. the signed-in user). */
  locals: L
  /** True when the envelope came in a `{ envelopes: [...] }` batch. */
  batch: boolean
  /** Aborted when the client goes away. */
  signal: AbortSignal
}

export type OutboxHandlerOptions<L = unknown> = {
  /**
   * Applies one event; called at most once per `emitId` (per scope) while the store remembers it.
   * Return ids to merge into the ack, nothing, or a rejection (see `reject`). A throw releases the
   * key so the client's retry can apply the event again.
   */
  apply: (envelope: Envelope, context: ApplyContext<L>) => ApplyResult | Promise<ApplyResult>
  /** Where applied `emitId`s are remembered. Default: `memoryStore()` (one process, 24 h). */
  store?: IdempotencyStore
  /**
   * Namespaces idempotency keys, e.g. by user, so one client can neither replay nor block
   * another's `emitId`. Default: one global namespace.
   */
  scope?: (request: Request, locals: L) => string | Promise<string>
  /** Largest request body in bytes; larger ones get 413. Default 1 MiB. */
  maxBodyBytes?: number
  /** Most envelopes in one batch; more get 400. Default 100. */
  maxBatch?: number
  /** Fingerprint that detects a reused key. Default: SHA-256 of the stable JSON of everything but `emitId`. */
  fingerprint?: (envelope: Envelope) => string | Promise<string>
  /**
   * Called with errors thrown by `apply`, `scope` or the store, and when a claim ran out before its
   * answer was stored. The client only sees a generic 500, or 503 when the store failed. Default `console.error`.
   */
  onError?: (error: unknown, envelope?: Envelope) => void
}
