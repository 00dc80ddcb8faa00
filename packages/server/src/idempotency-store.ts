import type { AckResult } from './types.ts'

/** What `begin` found for a key. */
export type BeginResult =
  /**
   * The key was free and is now claimed by this caller for `leaseMs`: apply, renewing the claim
   * with `token` while `apply` runs, then `complete` or `abandon` with the same `token`.
   */
  | { status: 'started'; token: string; leaseMs: number }
  /** Another request claimed the key and has not finished. */
  | { status: 'in-progress'; fingerprint: string }
  /** The key was applied before; `result` is the answer to give again. */
  | { status: 'done'; fingerprint: string; result: AckResult }

/**
 * Remembers which idempotency keys were applied and what was answered. `applyOnce` calls `begin`
 * once per envelope; after `started` it calls `renew` every `leaseMs / 3` while `apply` runs, then
 * exactly one of `complete` or `abandon`, always with the claim's token.
 *
 * A shared store (Redis, SQL) makes the guarantee hold across processes. What it must do:
 * - `begin` is atomic: of two concurrent calls for one free key, exactly one sees `started`
 *   (Redis `SET key claim NX PX lease`; SQL `INSERT ... ON CONFLICT DO NOTHING`, then a read).
 * - A claim expires after its lease, so a process that dies mid-apply does not block its key
 *   forever; `renew` pushes the expiry out by another lease.
 * - `complete`, `abandon` and `renew` act only while `token` still holds the claim, checked in the
 *   same atomic step as the write (a Lua script, a `WHERE token = $1`), and answer whether it did:
 *   a holder whose lease ran out can neither complete, release nor extend someone else's claim.
 * - A completed entry lives for the retention window (a day is typical; at least the client's
 *   `retry.maxAgeMs`) and then expires. Results and fingerprints are plain JSON data.
 * - A call that cannot reach the shared state throws (or rejects within a bounded time): the
 *   handler then answers 503 with `Retry-After` and applies nothing.
 */
export interface IdempotencyStore {
  /** Claims `key` for this request unless an entry exists, in which case it reports that entry. */
  begin(key: string, fingerprint: string): Promise<BeginResult>
  /**
   * Turns the claim held by `token` into a completed entry that answers `result` to every repeat.
   * Resolves false, storing nothing, when `token` no longer holds the claim.
   */
  complete(key: string, token: string, fingerprint: string, result: AckResult): Promise<boolean>
  /** Releases the claim held by `token`, so a retry can apply the key. False when it was not held. */
  abandon(key: string, token: string): Promise<boolean>
  /** Extends the claim held by `token` by one lease from now. False when it was not held. */
  renew(key: string, token: string): Promise<boolean>
}
