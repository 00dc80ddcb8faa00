import { afterEach, describe, expect, it, vi } from 'vitest'
import { fingerprintEnvelope, sha256, stableJson, webSha256 } from '../src/fingerprint.ts'
import { createOutboxHandler } from '../src/handler.ts'
import type { Envelope } from '../src/types.ts'
import { batchRequest, envelope, stubStore } from './helpers.ts'

/** Loads a fresh copy of the module, so its one-time `node:crypto` lookup runs again. */
async function freshFingerprint(getBuiltinModule: (id: string) => unknown) {
  vi.spyOn(process, 'getBuiltinModule').mockImplementation(getBuiltinModule as typeof process.getBuiltinModule)
  vi.resetModules()
  return import('../src/fingerprint.ts')
}

const TEXTS = ['', 'abc', '{"a":1}', 'héllo 👋 世界', 'x'.repeat(10_000), '\ud800 lone surrogate']

describe('sha256', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('is synchronous on Node and agrees with Web Crypto', async () => {
    for (const text of TEXTS) {
      const sync = sha256(text)
      expect(typeof sync).toBe('string')
      expect(sync).toBe(await webSha256(text))
    }
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })

  it('uses createHash where node:crypto has no one-shot hash', async () => {
    const { createHash } = await import('node:crypto')
    const calls: string[] = []
    const fresh = await freshFingerprint((id) => {
      calls.push(id)
      return { createHash }
    })
    for (const text of TEXTS) expect(fresh.sha256(text)).toBe(await webSha256(text))
    expect(calls).toEqual(['node:crypto']) // looked up once
  })

  it.each([
    ['no node:crypto', () => undefined],
    ['a node:crypto without hashes', () => ({})],
    [
      'a getBuiltinModule that throws',
      () => {
        throw new Error('not here')
      },
    ],
  ])('falls back to Web Crypto with %s, giving the same fingerprints', async (_name, getBuiltinModule) => {
    const fresh = await freshFingerprint(getBuiltinModule)
    for (const text of TEXTS) {
      const digest = fresh.sha256(text)
      expect(digest).toBeInstanceOf(Promise)
      expect(await digest).toBe(sha256(text))
    }
    const e = envelope(1, { keys: { messageId: 'm1' } })
    expect(fresh.defaultFingerprint(e)).toBeInstanceOf(Promise)
    expect(await fresh.fingerprintEnvelope(e)).toBe(await fingerprintEnvelope(e))
  })
})

describe('fingerprintEnvelope', () => {
  it('keeps the digests earlier versions stored', async () => {
    expect(await fingerprintEnvelope(envelope(1))).toBe(
      '8627364169144c430184b74d077867b621d32ff21b62666bf802036f2454f2eb',
    )
    const e = envelope(2, {
      keys: { messageId: 'm2' },
      payload: { text: 'héllo 👋', n: [1, 2.5, null, true], z: { b: 1, a: 2 } },
    })
    expect(await fingerprintEnvelope(e)).toBe('4efd9d53e5bd8bcef4ca943fafff60c2c44fbfae851b0f76bbd85f6db6176c70')
  })

  it('is what the handler stores by default, one per envelope of a batch', async () => {
    const seen: string[] = []
    const store = stubStore({
      begin: async (_key, fingerprint) => {
        seen.push(fingerprint)
        return { status: 'started', token: 't', leaseMs: 60_000 }
      },
    })
    const handler = createOutboxHandler({ apply: () => undefined, store })
    const envelopes: Envelope[] = [envelope(1), envelope(2, { keys: { requestId: 'r2' } }), envelope(3, { lane: 'c2' })]
    expect((await handler(batchRequest(envelopes))).status).toBe(200)
    expect(seen).toEqual(await Promise.all(envelopes.map(fingerprintEnvelope)))
  })
})

describe('stableJson', () => {
  it('writes what earlier versions wrote, odd values included', () => {
    const sparse: unknown[] = new Array(3)
    sparse[0] = 1
    sparse[2] = 3
    const value = {
      list: [undefined, () => 1, Symbol('s'), sparse],
      f: () => 1,
      d: new Date(0),
      n: Number.NaN,
      '10': 1,
      '9': 2,
      B: 0,
      a: 'é"\ud800',
      u: undefined,
    }
    expect(stableJson(value)).toBe(
      '{"10":1,"9":2,"B":0,"a":"é\\"\\ud800","d":{},"f":null,"list":[null,null,null,[1,,3]],"n":null}',
    )
    expect(stableJson(undefined)).toBe('null')
    expect(stableJson([])).toBe('[]')
    expect(stableJson({ u: undefined })).toBe('{}')
  })

  it('sorts objects with many keys', () => {
    const letters = 'qwertyuiopasdfghjklzxcvbnm'.split('')
    const big = Object.fromEntries(letters.map((k) => [k, { [k.toUpperCase()]: k, [k]: 1 }]))
    const sorted = [...letters].sort()
    expect(stableJson(big)).toBe(`{${sorted.map((k) => `"${k}":{"${k.toUpperCase()}":"${k}","${k}":1}`).join(',')}}`)
  })
})
