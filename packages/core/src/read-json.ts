/** Answers larger than this are not read: no ack is that big. */
const MAX_ANSWER_BYTES = 1024 * 1024

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Reads a JSON answer, at most `MAX_ANSWER_BYTES`; anything else (HTML, truncated, huge) is undefined. */
export const readJson = async (response: Response): Promise<unknown> => {
  const type = response.headers.get('content-type') ?? ''
  if (!/\bjson\b/i.test(type) || !response.body) {
    await response.body?.cancel().catch(() => {})
    return undefined
  }
  // A declared length within the cap: the browser reads the body in one go (HTTP framing stops
  // it at that length). Otherwise chunk by chunk, counting.
  const length = response.headers.get('content-length') ?? ''
  if (/^\d{1,7}$/.test(length) && Number(length) <= MAX_ANSWER_BYTES) return parseJson(await response.text())
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel().catch(() => {})
      return undefined
    }
    chunks.push(value)
  }
  return parseJson(await new Blob(chunks as BlobPart[]).text())
}
