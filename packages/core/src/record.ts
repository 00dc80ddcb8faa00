import { isCount, isRecord, isString, isTime, optional } from './guards.ts'
import type { Entry } from './queue.ts'
import type { DeliveryError, FailedItem, OutboxItem } from './types.ts'
import { isUlid } from './ulid.ts'

/** Version of the stored record layout; a later release migrates older versions on load. */
export const RECORD_VERSION = 1

/** What one IndexedDB record holds: plain data only, never headers or functions. */
export type StoredRecord = {
  v: typeof RECORD_VERSION
  item: OutboxItem | FailedItem
  coalesceKey?: string
  ttlMs?: number
  ageFrom?: number
}

export function toRecord(entry: Entry): StoredRecord {
  const record: StoredRecord = { v: RECORD_VERSION, item: entry.item, ageFrom: entry.ageFrom }
  if (entry.policy.coalesceKey !== undefined) record.coalesceKey = entry.policy.coalesceKey
  if (entry.policy.ttlMs !== undefined) record.ttlMs = entry.policy.ttlMs
  return record
}

export const isDeliveryError = (v: unknown): v is DeliveryError =>
  isRecord(v) &&
  ['http', 'network', 'rejected', 'invalid-ack', 'expired', 'storage'].includes(v.kind as string) &&
  isString(v.message) &&
  typeof v.retryable === 'boolean' &&
  optional(v.code, (c) => isString(c) || typeof c === 'number') &&
  optional(v.hint, isString)

const isKeys = (v: unknown) => isRecord(v) && optional(v.messageId, isString) && optional(v.requestId, isString)

/** Validates a record read back from storage; returns a reason when it cannot be trusted. */
export function checkRecord(key: string, value: unknown): { record: StoredRecord } | { reason: string } {
  if (!isRecord(value)) return { reason: 'not an object' }
  if (value.v !== RECORD_VERSION) return { reason: `unknown record version ${String(value.v)}` }
  const item = value.item
  if (!isRecord(item)) return { reason: 'no item' }
  if (!isUlid(item.emitId) || item.emitId !== key) return { reason: 'emitId is not a ULID matching its key' }
  if (!isString(item.event) || item.event === '') return { reason: 'bad event name' }
  if (!isRecord(item.payload)) return { reason: 'payload is not an object' }
  if (!isString(item.lane)) return { reason: 'bad lane' }
  if (!isTime(item.createdAt)) return { reason: 'bad createdAt' }
  if (!isCount(item.attempts)) return { reason: 'bad attempts' }
  if (!optional(item.keys, isKeys)) return { reason: 'bad keys' }
  if (item.status === 'failed') {
    if (!isDeliveryError(item.error)) return { reason: 'failed item without a valid error' }
  } else if (['queued', 'sending', 'waiting'].includes(item.status as string)) {
    if (!optional(item.nextAttemptAt, isTime) || !optional(item.lastError, isDeliveryError))
      return { reason: 'bad retry bookkeeping' }
  } else return { reason: `unknown status ${String(item.status)}` }
  if (!optional(value.coalesceKey, isString) || !optional(value.ttlMs, isTime) || !optional(value.ageFrom, isTime))
    return { reason: 'bad policy fields' }
  return { record: value as StoredRecord }
}
