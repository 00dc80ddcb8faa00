import { InvalidEmitError } from './errors.ts'
import type { CoalesceOptions, EmitOptions } from './types.ts'

/** How the queue treats one emit: what may replace it, when it goes stale, whether it is stored. */
export type EmitPolicy = {
  coalesceKey: string | undefined
  ttlMs: number | undefined
  durable: boolean
  /** Not sendable before this time (typing events wait out their window). */
  holdUntil: number
}

/**
 * Resolves an emit's coalescing policy. Events named `typing*` default to a coalesce key of lane +
 * `payload.userId`, `durable: false`, `ttlMs = dropStaleTypingMs`, and a hold of `typingWindowMs`,
 * so a start/stop burst collapses to one send.
 */
export function resolvePolicy(
  event: string,
  payload: Record<string, unknown>,
  lane: string,
  options: EmitOptions | undefined,
  coalesce: Required<CoalesceOptions>,
  now: number,
): EmitPolicy {
  const typing = event.startsWith('typing')
  const ttlMs = options?.ttlMs ?? (typing ? coalesce.dropStaleTypingMs : undefined)
  if (ttlMs !== undefined && !(ttlMs >= 0))
    throw new InvalidEmitError('options.ttlMs must be a number of milliseconds, 0 or more.', { path: 'options.ttlMs' })
  const coalesceKey =
    options?.coalesceKey ?? (typing ? `typing\u0000${lane}\u0000${String(payload.userId ?? '')}` : undefined)
  if (coalesceKey !== undefined && typeof coalesceKey !== 'string')
    throw new InvalidEmitError('options.coalesceKey must be a string.', { path: 'options.coalesceKey' })
  const durable = options?.durable ?? !typing
  // Most emits have no special policy: they share one object (a pending item costs less memory).
  if (!typing && coalesceKey === undefined && ttlMs === undefined && durable) return PLAIN
  return { coalesceKey, ttlMs, durable, holdUntil: typing ? now + coalesce.typingWindowMs : 0 }
}

const PLAIN: EmitPolicy = Object.freeze<EmitPolicy>({
  coalesceKey: undefined,
  ttlMs: undefined,
  durable: true,
  holdUntil: 0,
})

/** The policy of an item read back from storage (durable, no hold); most share one object. */
export const storedPolicy = (coalesceKey: string | undefined, ttlMs: number | undefined): EmitPolicy =>
  coalesceKey === undefined && ttlMs === undefined ? PLAIN : { coalesceKey, ttlMs, durable: true, holdUntil: 0 }

export const normalizeCoalesce = (options: CoalesceOptions = {}): Required<CoalesceOptions> => ({
  typingWindowMs: options.typingWindowMs ?? 300,
  dropStaleTypingMs: options.dropStaleTypingMs ?? 5_000,
})
