import type { Envelope } from './types.ts'

/** JSON with object keys sorted at every depth, so equal data always gives equal text. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : stableJson(v))).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>
    const members = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${stableJson(record[key])}`)
    return `{${members.join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

const hex = (bytes: ArrayBuffer): string =>
  Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('')

/**
 * The default fingerprint: SHA-256 (Web Crypto, so Node 20+, Deno, Bun, workers) of the stable
 * JSON of everything in the envelope except `emitId`. Empty `keys` count as no keys.
 */
export async function fingerprintEnvelope(envelope: Envelope): Promise<string> {
  const { event, payload, keys, lane, createdAt } = envelope
  const hasKeys = keys !== undefined && Object.values(keys).some((v) => v !== undefined)
  const text = stableJson({ event, payload, keys: hasKeys ? keys : undefined, lane, createdAt })
  return hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))
}
