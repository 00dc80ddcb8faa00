/**
 * Rewrites `mangle.json` from the sources: every internal property name (see `internal-props.ts`)
 * gets the next short name that is not a property name anywhere in `src`. Run it after adding or
 * renaming a member of an internal interface: `pnpm --filter @outbox/core mangle`.
 */
import { writeFileSync } from 'node:fs'
import { internalProps } from './internal-props.ts'

const KEYWORDS = new Set(['do', 'if', 'in'])

export function shortNames(props: Iterable<string>, taken: ReadonlySet<string>): Record<string, string> {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
  const candidates = [...letters, ...[...letters].flatMap((a) => [...`${letters}0123456789`].map((b) => a + b))]
  const free = candidates.filter((name) => !taken.has(name) && !KEYWORDS.has(name))
  const sorted = [...props].sort()
  if (sorted.length > free.length) throw new Error('mangle: more internal names than short names')
  return Object.fromEntries(sorted.map((prop, i) => [prop, free[i] as string]))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { internal, kept, used } = internalProps()
  const props = shortNames(internal, new Set([...kept.keys(), ...used]))
  writeFileSync(new URL('../mangle.json', import.meta.url), `${JSON.stringify({ props }, null, 2)}\n`)
  console.log(`mangle.json: ${internal.size} internal property names`)
}
