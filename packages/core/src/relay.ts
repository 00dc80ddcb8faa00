import { OutboxError } from './errors.ts'
import { isRecord, isString, isTime, optional } from './guards.ts'
import type { EmitEnvelope, EmitOptions, Outbox } from './types.ts'
import { isUlid } from './ulid.ts'

/** Who sent a runtime message, as `chrome.runtime.onMessage` says (the fields the relay reads). */
export type RelaySender = { id?: string; url?: string; origin?: string; tab?: { id?: number } }

/** The part of `chrome.runtime` a content script or popup uses to relay, typed structurally. */
export interface RelayRuntime {
  sendMessage(message: unknown): Promise<unknown>
}

/** The part of `chrome.runtime` the service worker uses to accept relayed events, typed structurally. */
export interface AcceptRuntime {
  readonly id?: string
  onMessage: {
    addListener(listener: RelayListener): void
    removeListener(listener: RelayListener): void
  }
}

type RelayListener = (message: unknown, sender: RelaySender, sendResponse: (response: unknown) => void) => undefined

/** The options of `emit` a relayed event may carry. */
export type RelayedEmitOptions = Pick<EmitOptions, 'keys' | 'lane' | 'coalesceKey' | 'ttlMs' | 'durable'>

/** An `emit` for a content script or popup: resolves once the service worker's outbox queued the event. */
export type RelayEmit = (
  event: string,
  payload: Record<string, unknown>,
  options?: RelayedEmitOptions,
) => Promise<EmitEnvelope>

/** A relayed emit did not reach the worker's outbox, or the worker refused it; nothing was queued. */
export class RelayError extends OutboxError {
  override name = 'RelayError' as const
  /** The worker's error name (`InvalidEmitError`, `OutboxFullError`, `InvalidRelayError`, …), or `unreachable`. */
  readonly reason: string
  constructor(message: string, reason: string, options?: { cause?: unknown }) {
    super(message, options)
    this.reason = reason
  }
}

const MESSAGE_TAG = 'outbox:emit'

type Refusal = { ok: false; error: { name: string; message: string } }
const refusal = (name: string, message: string): Refusal => ({ ok: false, error: { name, message } })

const runtimeOf = () => (globalThis as { chrome?: { runtime?: unknown } }).chrome?.runtime

/**
 * For content scripts and popups, which must not send themselves (they die with their page, and
 * only one sender may exist per key): returns an `emit` that hands each event to the extension's
 * service worker with `chrome.runtime.sendMessage`, where `acceptRelayed` puts it in the outbox.
 * The promise resolves with the envelope the worker queued, and rejects with a `RelayError` when
 * no worker outbox took it.
 */
export function relayToWorker(options: { persistenceKey?: string; runtime?: RelayRuntime } = {}): RelayEmit {
  const to = options.persistenceKey ?? 'outbox'
  return async (event, payload, emitOptions) => {
    const runtime = options.runtime ?? (runtimeOf() as RelayRuntime | undefined)
    if (typeof runtime?.sendMessage !== 'function')
      throw new RelayError(
        'relayToWorker runs in an extension page or content script (no chrome.runtime here).',
        'unreachable',
      )
    let response: unknown
    try {
      response = await runtime.sendMessage({ type: MESSAGE_TAG, to, event, payload, options: emitOptions })
    } catch (cause) {
      throw new RelayError(
        'Could not reach the extension service worker; is it declared in manifest.json ("background.service_worker")?',
        'unreachable',
        { cause },
      )
    }
    if (isRecord(response) && response.ok === true && isEnvelope(response.envelope)) return response.envelope
    if (isRecord(response) && response.ok === false && isRecord(response.error)) {
      const { name, message } = response.error
      throw new RelayError(
        `The service worker refused the event: ${isString(message) ? message : 'no reason given'}`,
        isString(name) ? name : 'unknown',
      )
    }
    throw new RelayError(
      response === undefined
        ? `No outbox in the service worker accepts events for "${to}": call acceptRelayed(outbox, { persistenceKey: "${to}" }) at its top level.`
        : 'The service worker answered with something that is not an envelope.',
      'unreachable',
    )
  }
}

/**
 * In the extension's service worker: puts events relayed by `relayToWorker` into `outbox`. Each
 * message is checked before anything is queued (its shape, the options it may carry, and that it
 * comes from this extension, plus `accept(sender)` when given); a refusal is answered, never
 * thrown. Messages that are not relayed events for this `persistenceKey` are left to other
 * listeners. Call it at the worker's top level, so a relayed event wakes a stopped worker.
 * Returns the function that stops accepting.
 */
export function acceptRelayed(
  outbox: Pick<Outbox, 'emit'>,
  options: { persistenceKey?: string; runtime?: AcceptRuntime; accept?: (sender: RelaySender) => boolean } = {},
): () => void {
  const runtime = options.runtime ?? (runtimeOf() as AcceptRuntime | undefined)
  if (typeof runtime?.onMessage?.addListener !== 'function')
    throw new OutboxError('acceptRelayed runs in an extension service worker (no chrome.runtime.onMessage here).')
  const key = options.persistenceKey ?? 'outbox'
  const listener: RelayListener = (message, sender, sendResponse) => {
    if (!isRecord(message) || message.type !== MESSAGE_TAG || message.to !== key) return
    sendResponse(take(message, sender))
  }
  const take = (message: Record<string, unknown>, sender: RelaySender) => {
    if (!isRecord(sender) || sender.id !== runtime.id || (options.accept && !options.accept(sender)))
      return refusal('InvalidRelayError', 'The sender may not relay events to this outbox.')
    const checked = checkRelayed(message)
    if ('reason' in checked) return refusal('InvalidRelayError', checked.reason)
    try {
      return { ok: true, envelope: outbox.emit(checked.event, checked.payload, checked.options) }
    } catch (error) {
      return error instanceof Error ? refusal(error.name, error.message) : refusal('Error', String(error))
    }
  }
  runtime.onMessage.addListener(listener)
  return () => runtime.onMessage.removeListener(listener)
}

const OPTION_CHECKS: Record<keyof RelayedEmitOptions, (v: unknown) => boolean> = {
  keys: (v) =>
    isRecord(v) && Object.entries(v).every(([k, s]) => (k === 'messageId' || k === 'requestId') && isString(s)),
  lane: isString,
  coalesceKey: isString,
  ttlMs: (v) => isTime(v) && (v as number) >= 0,
  durable: (v) => typeof v === 'boolean',
}

type Relayed = { event: string; payload: Record<string, unknown>; options: RelayedEmitOptions | undefined }

/** Checks a relayed message field by field; what `emit` checks itself (the payload's contents) is left to it. */
function checkRelayed(message: Record<string, unknown>): Relayed | { reason: string } {
  const { event, payload, options } = message
  if (!isString(event) || event === '') return { reason: 'event must be a non-empty string' }
  if (!isRecord(payload)) return { reason: 'payload must be an object' }
  if (options === undefined) return { event, payload, options: undefined }
  if (!isRecord(options)) return { reason: 'options must be an object' }
  for (const [name, value] of Object.entries(options)) {
    const check = Object.hasOwn(OPTION_CHECKS, name) ? OPTION_CHECKS[name as keyof RelayedEmitOptions] : undefined
    if (!check) return { reason: `option ${name} cannot be relayed` }
    if (!optional(value, check)) return { reason: `option ${name} is not valid` }
  }
  return { event, payload, options: options as RelayedEmitOptions }
}

/** The worker's answer is checked too: a content script trusts no message it did not build. */
const isEnvelope = (v: unknown): v is EmitEnvelope =>
  isRecord(v) &&
  isUlid(v.emitId) &&
  isString(v.event) &&
  isRecord(v.payload) &&
  isString(v.lane) &&
  isTime(v.createdAt) &&
  optional(v.keys, isRecord)
