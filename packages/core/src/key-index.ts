import type { EmitKeys } from './types.ts'

/**
 * Semantic keys (`messageId`, `requestId`) and coalesce keys → the pending emitIds holding them.
 * Each key maps to the pending emitId holding it, or a set of them in the rare case of several
 * (a retry can make two): most keys cost one map entry, not a set. Free functions over the map.
 */
export type KeyIndex = Map<string, string | Set<string>>

const keyIds = (keys: EmitKeys | undefined, coalesceKey?: string): string[] => {
  const ids: string[] = []
  if (keys?.messageId !== undefined) ids.push(`m\u0000${keys.messageId}`)
  if (keys?.requestId !== undefined) ids.push(`r\u0000${keys.requestId}`)
  if (coalesceKey !== undefined) ids.push(`c\u0000${coalesceKey}`)
  return ids
}

const idsOf = (index: KeyIndex, k: string): Iterable<string> => {
  const ids = index.get(k)
  return ids === undefined ? [] : typeof ids === 'string' ? [ids] : ids
}

export function indexKeys(index: KeyIndex, id: string, keys: EmitKeys | undefined, coalesceKey?: string): void {
  for (const k of keyIds(keys, coalesceKey)) {
    const ids = index.get(k)
    if (ids === undefined) index.set(k, id)
    else if (typeof ids === 'string') index.set(k, new Set([ids, id]))
    else ids.add(id)
  }
}

export function unindexKeys(index: KeyIndex, id: string, keys: EmitKeys | undefined, coalesceKey?: string): void {
  for (const k of keyIds(keys, coalesceKey)) {
    const ids = index.get(k)
    if (ids === id) index.delete(k)
    else if (typeof ids === 'object' && ids.delete(id) && ids.size === 0) index.delete(k)
  }
}

export function* bySemanticKeys(index: KeyIndex, keys: EmitKeys | undefined): Iterable<string> {
  for (const k of keyIds(keys)) yield* idsOf(index, k)
}

export const byCoalesceKey = (index: KeyIndex, coalesceKey: string): Iterable<string> =>
  idsOf(index, `c\u0000${coalesceKey}`)
