import { RequestProblem } from './respond.ts'

const tooLarge = (maxBytes: number) =>
  new RequestProblem(
    413,
    'too-large',
    `The request body is over ${maxBytes} bytes. Send fewer events per batch, or raise maxBodyBytes on the server.`,
  )

/**
 * Reads the body as UTF-8 text, refusing it (413) when `Content-Length` announces more than
 * `maxBytes` or, for chunked or lying clients, as soon as the bytes read pass it; the rest is
 * never buffered.
 */
export async function readBody(request: Request, maxBytes: number): Promise<string> {
  const declared = request.headers.get('content-length')
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes)
  if (!request.body) return ''
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>
    try {
      chunk = await reader.read()
    } catch {
      throw new RequestProblem(400, 'bad-request', 'The request body could not be read (the connection broke).')
    }
    if (chunk.done) break
    total += chunk.value.byteLength
    if (total > maxBytes) {
      reader.cancel().catch(() => {})
      throw tooLarge(maxBytes)
    }
    chunks.push(chunk.value)
  }
  const bytes = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new RequestProblem(400, 'bad-request', 'The request body is not valid UTF-8. Send JSON encoded as UTF-8.')
  }
}
