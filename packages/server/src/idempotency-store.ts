import type { AckResult } from './types.ts'

/** What `begin` found for a key. */
export type BeginResult =
  /** The key was free and is now claimed by this caller: apply, then `complete` or `abandon`. */
  | { status: 'started' }
  /** Another request claimed the key and has not finished. */
  | { status: 'in-progress'; fingerprint: string }
  /** The key was applied before; `result` is the answer to give again. */
  | { status: 'done'; fingerprint: string; result: AckResult }

/**
 * Remembers which idempotency keys were applied and what was answered. The handler calls
 * `begin` once per envelope and then exactly one of `complete` or `abandon`.
 *
 * A shared store (Redis, SQL) makes the guarantee hold across processes. What it must do:
 * - `begin` is atomic: of two concurrent calls for one free key, exactly one sees `started`
 *   (Redis `SET key claim NX PX lease`; SQL `INSERT ... ON CONFLICT DO NOTHING`, then a read).
 * - A claim expires after a lease, so a process that dies mid-apply does not block its key forever.
 * - A completed entry lives for the retention window (a day is typical) and then expires.
 * - Results and fingerprints are plain JSON data.
 */
export interface IdempotencyStore {
  /** Claims `key` for this request unless an entry exists, in which case it reports that entry. */
  begin(key: string, fingerprint: string): Promise<BeginResult>
  /** Turns the claim into a completed entry that answers `result` to every repeat. */
  complete(key: string, fingerprint: string, result: AckResult): Promise<void>
  /** Releases the claim without storing anything, so a retry can apply the key. */
  abandon(key: string): Promise<void>
}
