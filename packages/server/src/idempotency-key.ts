/** Parameters that may follow the string in a structured-field item (`"key";p=1`); ignored. */
const PARAMETERS = /^(?:;[ ]*[a-z*][a-z0-9_.*-]*(?:=[^;]*)?)*$/

/**
 * Reads an `Idempotency-Key` header value as the IETF draft defines it: a structured-field string,
 * `"…"` with `\"` and `\\` escapes and printable ASCII inside. Returns undefined when it is not
 * one (a bare token, an unterminated quote, or several keys joined by a comma).
 */
export function parseIdempotencyKey(header: string): string | undefined {
  const text = header.replace(/^[ \t]+|[ \t]+$/g, '')
  if (!text.startsWith('"')) return undefined
  let key = ''
  for (let i = 1; i < text.length; i++) {
    const c = text[i] as string
    if (c === '"') return PARAMETERS.test(text.slice(i + 1)) ? key : undefined
    if (c === '\\') {
      const next = text[++i]
      if (next !== '"' && next !== '\\') return undefined
      key += next
      continue
    }
    const code = c.charCodeAt(0)
    if (code < 0x20 || code > 0x7e) return undefined
    key += c
  }
  return undefined
}
