import type { EmitKeys } from './types.ts'

const keyIds = (keys: EmitKeys | undefined, coalesceKey: string | undefined): string[] => {
  const ids: string[] = []
  if (keys?.messageId !== undefined) ids.push(`m\u0000${keys.messageId}`)
  if (keys?.requestId !== undefined) ids.push(`r\u0000${keys.requestId}`)
  if (coalesceKey !== undefined) ids.push(`c\u0000${coalesceKey}`)
  return ids
}

/** Semantic keys (`messageId`, `requestId`) and coalesce keys → the pending emitIds holding them. */
export interface KeyIndex {
  add(emitId: string, keys: EmitKeys | undefined, coalesceKey: string | undefined): void
  remove(emitId: string, keys: EmitKeys | undefined, coalesceKey: string | undefined): void
  bySemanticKeys(keys: EmitKeys | undefined): Iterable<string>
  byCoalesceKey(coalesceKey: string): Iterable<string>
  clear(): void
}

/**
 * Each key maps to the pending emitId holding it, or a set of them in the rare case of several
 * (a retry can make two): most keys cost one map entry, not a set.
 */
export function createKeyIndex(): KeyIndex {
  const index = new Map<string, string | Set<string>>()
  const idsOf = (k: string): Iterable<string> => {
    const ids = index.get(k)
    return ids === undefined ? [] : typeof ids === 'string' ? [ids] : ids
  }
  return {
    add(id, keys, coalesceKey) {
      for (const k of keyIds(keys, coalesceKey)) {
        const ids = index.get(k)
        if (ids === undefined) index.set(k, id)
        else if (typeof ids === 'string') index.set(k, new Set([ids, id]))
        else ids.add(id)
      }
    },
    remove(id, keys, coalesceKey) {
      for (const k of keyIds(keys, coalesceKey)) {
        const ids = index.get(k)
        if (ids === id) index.delete(k)
        else if (typeof ids === 'object' && ids.delete(id) && ids.size === 0) index.delete(k)
      }
    },
    *bySemanticKeys(keys) {
      for (const k of keyIds(keys, undefined)) yield* idsOf(k)
    },
    byCoalesceKey: (coalesceKey) => idsOf(`c\u0000${coalesceKey}`),
    clear: () => index.clear(),
  }
}
