import { isRetryable, toAckResult } from './ack.ts'
import type { IdempotencyStore } from './idempotency-store.ts'
import type { AckResult, ApplyResult, Envelope } from './types.ts'

/** What happened to one envelope. `applied` includes rejections that `apply` returned. */
export type Outcome =
  | { kind: 'applied' | 'replayed'; result: AckResult }
  | { kind: 'in-progress' | 'key-reused' | 'failed' }

export type ApplyOnceDeps = {
  store: IdempotencyStore
  /** The store key: the `emitId`, prefixed by its scope when there is one. */
  key: string
  fingerprint: (envelope: Envelope) => string | Promise<string>
  run: () => ApplyResult | Promise<ApplyResult>
  onError: (error: unknown, envelope?: Envelope) => void
}

/**
 * Applies an envelope unless its key was applied (or is being applied) already: claims the key,
 * runs `apply`, then stores the answer, or releases the key when `apply` threw or asked for a retry.
 */
export async function applyOnce(envelope: Envelope, deps: ApplyOnceDeps): Promise<Outcome> {
  const { store, key, onError } = deps
  let fingerprint: string | Promise<string>
  try {
    fingerprint = deps.fingerprint(envelope)
    if (typeof fingerprint !== 'string') fingerprint = await fingerprint
    const found = await store.begin(key, fingerprint)
    if (found.status !== 'started') {
      if (found.fingerprint !== fingerprint) return { kind: 'key-reused' }
      return found.status === 'done' ? { kind: 'replayed', result: found.result } : { kind: 'in-progress' }
    }
  } catch (error) {
    onError(error, envelope)
    return { kind: 'failed' }
  }
  let result: AckResult
  try {
    result = toAckResult(envelope.emitId, await deps.run())
  } catch (error) {
    onError(error, envelope)
    await store.abandon(key).catch((e: unknown) => onError(e, envelope))
    return { kind: 'failed' }
  }
  try {
    if (isRetryable(result)) await store.abandon(key)
    else await store.complete(key, fingerprint, result)
  } catch (error) {
    // The event is applied: answer it. A retry meets the claim (409) until its lease runs out.
    onError(error, envelope)
  }
  return { kind: 'applied', result }
}
