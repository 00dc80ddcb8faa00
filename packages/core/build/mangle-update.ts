/**
 * Rewrites `mangle.json` from the sources: every internal property name (see `internal-props.ts`)
 * gets a short name that is not a property name anywhere in `src`, the shortest to the names used
 * most. Run it after adding or renaming a member of an internal interface:
 * `pnpm --filter @outbox/core mangle`.
 */
import { writeFileSync } from 'node:fs'
import { internalProps } from './internal-props.ts'

const KEYWORDS = new Set(['do', 'if', 'in'])

/** `uses`: how often each name occurs; ties (and names without a count) go in name order. */
export function shortNames(
  props: Iterable<string>,
  taken: ReadonlySet<string>,
  uses: ReadonlyMap<string, number> = new Map(),
): Record<string, string> {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
  const candidates = [...letters, ...[...letters].flatMap((a) => [...`${letters}0123456789`].map((b) => a + b))]
  const free = candidates.filter((name) => !taken.has(name) && !KEYWORDS.has(name))
  const count = (name: string) => uses.get(name) ?? 0
  const sorted = [...props].sort((a, b) => count(b) - count(a) || (a < b ? -1 : a > b ? 1 : 0))
  if (sorted.length > free.length) throw new Error('mangle: more internal names than short names')
  return Object.fromEntries(sorted.map((prop, i) => [prop, free[i] as string]))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { internal, kept, used } = internalProps()
  const ranked = shortNames(internal, new Set([...kept.keys(), ...used.keys()]), used)
  // Written in name order, so a change reads as a diff of names.
  const props = Object.fromEntries(Object.entries(ranked).sort(([a], [b]) => (a < b ? -1 : 1)))
  writeFileSync(new URL('../mangle.json', import.meta.url), `${JSON.stringify({ props }, null, 2)}\n`)
  console.log(`mangle.json: ${internal.size} internal property names`)
}
