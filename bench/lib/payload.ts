/** Shared by the browser and Node suites: the items every figure uses. */

/** Bytes of the serialized payload of a bench item (a chat message). */
export const PAYLOAD_BYTES = 300

const FILLER = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore. '

/**
 * A chat message whose JSON is exactly `bytes` long (ASCII): `{ chatId, messageId, text }`.
 * Every item gets its own `messageId` and text, as real messages would.
 */
export function chatPayload(i: number, bytes = PAYLOAD_BYTES, chatId = 'c1'): Record<string, unknown> {
  const base = { chatId, messageId: `m-${i}`, text: '' }
  const room = bytes - JSON.stringify(base).length
  let text = `#${i} `
  while (text.length < room) text += FILLER
  base.text = text.slice(0, Math.max(0, room))
  return base
}
