import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const sources = readdirSync(new URL('../src/', import.meta.url)).filter((f) => f.endsWith('.ts'))

describe('the contributor map in the core README', () => {
  it('lists every source file, and only those', () => {
    const section = readme.slice(readme.indexOf('## Files'), readme.indexOf('## Fast loops'))
    const listed = [...section.matchAll(/^\| `([\w.-]+\.ts)`\s*\|/gm)].map((m) => m[1])
    expect(listed.length).toBeGreaterThan(0)
    expect([...listed].sort()).toEqual([...sources].sort())
  })

  it('names only files that exist in the data path', () => {
    const section = readme.slice(readme.indexOf('## The data path'), readme.indexOf('## Files'))
    const named = [...section.matchAll(/`([\w.-]+\.ts)`/g)].map((m) => m[1])
    expect(named.filter((f) => !sources.includes(f as string))).toEqual([])
  })
})
