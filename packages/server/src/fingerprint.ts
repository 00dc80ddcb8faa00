import type { Envelope } from './types.ts'

/** Sorts a few keys in place by UTF-16 code units, as `sort()` does, without its overhead. */
const sortKeys = (keys: string[]): string[] => {
  if (keys.length > 16) return keys.sort()
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string
    let j = i - 1
    for (; j >= 0 && (keys[j] as string) > key; j--) keys[j + 1] = keys[j] as string
    keys[j + 1] = key
  }
  return keys
}

/** JSON with object keys sorted at every depth, so equal data always gives equal text. */
export function stableJson(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null'
  let text = ''
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      // A hole stays empty between its commas, as `map` and `join` always wrote it.
      text += `${i > 0 ? ',' : ''}${!(i in value) ? '' : item === undefined ? 'null' : stableJson(item)}`
    }
    return `[${text}]`
  }
  const record = value as Record<string, unknown>
  for (const key of sortKeys(Object.keys(record))) {
    const member = record[key]
    if (member !== undefined) text += `${text ? ',' : ''}${JSON.stringify(key)}:${stableJson(member)}`
  }
  return `{${text}}`
}

/** The parts of `node:crypto` used here, from any runtime that offers `process.getBuiltinModule`. */
type NodeCrypto = {
  hash?: (algorithm: string, data: string) => string
  createHash: (algorithm: string) => { update(data: string): { digest(encoding: 'hex'): string } }
}

/** `node:crypto`'s SHA-256 when the runtime has it, else null; looked up once. */
let nodeSha256: ((text: string) => string) | null | undefined

const findNodeSha256 = (): ((text: string) => string) | null => {
  try {
    // No import statement, so bundlers for browsers and workers have nothing to resolve.
    const host = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
    const node = host?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined
    const hash = node?.hash
    if (typeof hash === 'function') return (text) => hash.call(node, 'sha256', text)
    if (typeof node?.createHash === 'function') return (text) => node.createHash('sha256').update(text).digest('hex')
  } catch {}
  return null
}

/** SHA-256 of the UTF-8 bytes of `text` with Web Crypto, in lower-case hex. */
export async function webSha256(text: string): Promise<string> {
  let hex = ''
  for (const byte of new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))))
    hex += (byte < 16 ? '0' : '') + byte.toString(16)
  return hex
}

/**
 * SHA-256 of the UTF-8 bytes of `text` in lower-case hex: synchronous through `node:crypto` where
 * the runtime offers it (`process.getBuiltinModule`), else Web Crypto. Both give the same digest.
 */
export function sha256(text: string): string | Promise<string> {
  if (nodeSha256 === undefined) nodeSha256 = findNodeSha256()
  return nodeSha256 ? nodeSha256(text) : webSha256(text)
}

/** The text the default fingerprint hashes: the stable JSON of everything but `emitId`. */
export function fingerprintText(envelope: Envelope): string {
  const { event, payload, keys, lane, createdAt } = envelope
  const hasKeys = keys !== undefined && Object.values(keys).some((v) => v !== undefined)
  return stableJson({ event, payload, keys: hasKeys ? keys : undefined, lane, createdAt })
}

/** The handler's default fingerprint: `fingerprintEnvelope`, synchronous where `node:crypto` is. */
export const defaultFingerprint = (envelope: Envelope): string | Promise<string> => sha256(fingerprintText(envelope))

/**
 * The default fingerprint: SHA-256 (`node:crypto` where the runtime has it, else Web Crypto, so
 * Node 20+, Deno, Bun, workers) of the stable JSON of everything in the envelope except `emitId`.
 * Empty `keys` count as no keys.
 */
export async function fingerprintEnvelope(envelope: Envelope): Promise<string> {
  return defaultFingerprint(envelope)
}
