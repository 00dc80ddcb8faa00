import { beforeAll, describe, expect, it } from 'vitest'
import { internalProps, type PropReport } from '../build/internal-props.ts'
import { mangleInternalProps, readMangleFile } from '../build/mangle.ts'
import { shortNames } from '../build/mangle-update.ts'

const { props } = readMangleFile(new URL('../mangle.json', import.meta.url))
let report: PropReport

beforeAll(() => {
  report = internalProps()
}, 120_000)

describe('internal property names (build/internal-props.ts)', () => {
  it('finds the interfaces between the parts internal', () => {
    for (const name of ['requeueInFlight', 'watermark', 'failedItems', 'applyRemote', 'unwritten'])
      expect(report.internal.has(name), name).toBe(true)
  })

  it('keeps what the package exports, what outlives a build, and what it does not make', () => {
    const why = (name: string) => report.kept.get(name) ?? ''
    // Public: on Outbox, the envelope, the host, the sender lock.
    for (const name of ['emitId', 'pending', 'flush', 'leading', 'senderLock', 'deferSend']) {
      expect(report.internal.has(name), name).toBe(false)
      expect(why(name), name).not.toBe('')
    }
    // Stored records and the messages between tabs: another version of the app reads them.
    expect(why('ageFrom')).toMatch(/stored or posted/)
    expect(why('notices')).toMatch(/stored or posted/)
    expect(why('op')).toMatch(/stored or posted/)
    // Browser objects src describes itself (Background Sync, a global lib.dom lacks).
    expect(why('register')).toMatch(/foreign/)
    expect(why('SyncManager')).toMatch(/foreign/)
    // DOM and dependencies.
    expect(why('onupgradeneeded')).toMatch(/outside src/)
    expect(why('getAllKeys')).toMatch(/outside src/)
    // Names a string spells: `'record' in result` would not follow a shortened name.
    expect(why('record')).not.toBe('')
  })
})

describe('mangle.json', () => {
  it('lists exactly the internal property names (else run: pnpm --filter @outbox/core mangle)', () => {
    expect(Object.keys(props).sort()).toEqual([...report.internal].sort())
  })

  it('gives each a short name of its own that src never uses as a property', () => {
    const shorts = Object.values(props)
    expect(new Set(shorts).size).toBe(shorts.length)
    for (const short of shorts) {
      expect(report.used.has(short), short).toBe(false)
      expect(report.kept.has(short), short).toBe(false)
    }
  })

  it('shortNames skips taken names and keywords and is stable for the same input', () => {
    const names = shortNames(['zeta', 'alpha', 'mid'], new Set(['a', 'c']))
    expect(names).toEqual({ alpha: 'b', mid: 'd', zeta: 'e' })
    // The most used name gets the first free short name.
    expect(
      shortNames(
        ['zeta', 'alpha'],
        new Set(['a']),
        new Map([
          ['zeta', 9],
          ['alpha', 2],
        ]),
      ),
    ).toEqual({
      zeta: 'b',
      alpha: 'c',
    })
    expect(shortNames(['x'], new Set('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'))).toEqual({ x: 'aa' })
    // Every one-letter name, every two-letter name up to 'dn': the next is 'do', a keyword.
    const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
    const upToDn = [...'abc'].flatMap((a) => [...`${letters}0123456789`].map((b) => a + b))
    const taken = new Set([...letters, ...upToDn, ...[...'abcdefghijklmn'].map((b) => `d${b}`)])
    expect(shortNames(['x'], taken)).toEqual({ x: 'dp' })
  })
})

describe('the build step (build/mangle.ts)', () => {
  const plugin = mangleInternalProps(new URL('../mangle.json', import.meta.url))

  it('shortens listed names in every property position and leaves the others', async () => {
    const code = [
      'export function f(persistence, entry) {',
      '  const { watermark, started } = persistence',
      '  return { watermark: watermark(), emitId: entry.item.emitId, at: persistence.watermark(), started }',
      '}',
    ].join('\n')
    const out = await plugin.renderChunk(code, { fileName: 'index.js' })
    const [watermark, started] = [props.watermark, props.started]
    expect(out?.code).toContain(`{ ${watermark}: watermark, ${started}: started }`)
    expect(out?.code).toContain(`persistence.${watermark}()`)
    expect(out?.code).toContain('emitId: entry.item.emitId')
    expect(out?.code).not.toMatch(/\.watermark\b|\bwatermark:/)
    expect(out?.map).toContain('"mappings"')
  })

  it('leaves declaration files alone', async () => {
    expect(await plugin.renderChunk('export declare const watermark: string', { fileName: 'index.d.ts' })).toBeNull()
  })
})
