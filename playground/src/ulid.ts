const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/**
 * A ULID for events sent with the outbox switched off (the outbox stamps its own otherwise);
 * `@outbox/server` accepts only canonical ULIDs as emitIds.
 */
export function ulid(now = Date.now()): string {
  let time = ''
  for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = ALPHABET[t % 32] + time
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  let random = ''
  for (const byte of bytes) random += ALPHABET[byte % 32]
  return time + random
}

/** A short random id for messageIds and requestIds. */
export const shortId = (prefix: string): string =>
  `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4)
    .toString(36)
    .padStart(4, '0')}`
