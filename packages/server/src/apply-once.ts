import { isRetryable, toAckResult } from './ack.ts'
import type { IdempotencyStore } from './idempotency-store.ts'
import type { AckResult, ApplyResult, Envelope } from './types.ts'

/**
 * What happened to one envelope. `applied` includes rejections that `apply` returned;
 * `unavailable` means the store could not be asked, so nothing was applied.
 */
export type Outcome =
  | { kind: 'applied' | 'replayed'; result: AckResult }
  | { kind: 'in-progress' | 'key-reused' | 'failed' | 'unavailable' }

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
 * runs `apply` while renewing the claim every third of its lease, then stores the answer, or
 * releases the key when `apply` threw or asked for a retry. The claim's token goes with every
 * write, so a holder whose lease ran out cannot complete or release another's claim.
 */
export async function applyOnce(envelope: Envelope, deps: ApplyOnceDeps): Promise<Outcome> {
  const { store, key, onError } = deps
  const report = (error: unknown) => onError(error, envelope)
  let fingerprint: string | Promise<string>
  try {
    fingerprint = deps.fingerprint(envelope)
    if (typeof fingerprint !== 'string') fingerprint = await fingerprint
  } catch (error) {
    report(error)
    return { kind: 'failed' }
  }
  let claim: Awaited<ReturnType<IdempotencyStore['begin']>>
  try {
    claim = await store.begin(key, fingerprint)
  } catch (error) {
    report(error)
    return { kind: 'unavailable' }
  }
  if (claim.status !== 'started') {
    if (claim.fingerprint !== fingerprint) return { kind: 'key-reused' }
    return claim.status === 'done' ? { kind: 'replayed', result: claim.result } : { kind: 'in-progress' }
  }
  const { token, leaseMs } = claim
  // A renewal that finds the claim gone is reported once: the key may be applied twice.
  let lost = false
  const renew = () =>
    store.renew(key, token).then((held) => {
      if (!held && !lost) {
        lost = true
        report(new Error(`The claim on ${key} ran out while apply was running; another request may apply it too.`))
      }
    }, report)
  const timer = leaseMs > 0 && leaseMs < 2 ** 31 ? setInterval(renew, Math.max(1, leaseMs / 3)) : undefined
  let result: AckResult
  try {
    result = toAckResult(envelope.emitId, await deps.run())
  } catch (error) {
    report(error)
    await store.abandon(key, token).catch(report)
    return { kind: 'failed' }
  } finally {
    clearInterval(timer)
  }
  try {
    const stored = isRetryable(result)
      ? await store.abandon(key, token)
      : await store.complete(key, token, fingerprint, result)
    if (!stored && !lost && !isRetryable(result))
      report(new Error(`The claim on ${key} ran out before its answer was stored; a retry may apply it again.`))
  } catch (error) {
    // The event is applied: answer it. A retry meets the claim (409) until its lease runs out.
    report(error)
  }
  return { kind: 'applied', result }
}
