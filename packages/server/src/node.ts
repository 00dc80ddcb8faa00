/**
 * The parts of Node's `IncomingMessage` the adapter reads, written out so the published types do
 * not require `@types/node`.
 */
export interface NodeRequest extends AsyncIterable<Uint8Array | string> {
  method?: string | undefined
  url?: string | undefined
  headers: Record<string, string | string[] | undefined>
  socket: object
}

/** The parts of Node's `ServerResponse` the adapter uses. */
export interface NodeResponse {
  writeHead(statusCode: number, headers: Record<string, string | string[]>): unknown
  end(chunk?: Uint8Array): unknown
  once(event: 'close', listener: () => void): unknown
  readonly writableFinished: boolean
}

export type NodeListener = (request: NodeRequest, response: NodeResponse) => void

const encoder = new TextEncoder()

const toRequest = (req: NodeRequest, signal: AbortSignal): Request => {
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(':')) continue // HTTP/2 pseudo-headers
    if (Array.isArray(value)) for (const v of value) headers.append(name, v)
    else headers.set(name, value)
  }
  const protocol = 'encrypted' in req.socket ? 'https' : 'http'
  let url: URL
  try {
    url = new URL(req.url ?? '/', `${protocol}://${req.headers.host ?? 'localhost'}`)
  } catch {
    url = new URL(req.url?.startsWith('/') ? req.url : '/', `${protocol}://localhost`)
  }
  const method = req.method ?? 'GET'
  if (method === 'GET' || method === 'HEAD') return new Request(url, { method, headers, signal })
  const chunks = req[Symbol.asyncIterator]()
  // Pulled on demand, so a handler that stops reading (413) stops buffering; Node discards the
  // unread rest of the request after the response ends, keeping the connection usable.
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next()
      if (next.done) controller.close()
      else controller.enqueue(typeof next.value === 'string' ? encoder.encode(next.value) : next.value)
    },
  })
  return new Request(url, { method, headers, signal, body, duplex: 'half' } as RequestInit)
}

const send = async (res: NodeResponse, response: Response): Promise<void> => {
  const headers: Record<string, string | string[]> = {}
  response.headers.forEach((value, name) => {
    headers[name] = value
  })
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) headers['set-cookie'] = cookies
  const body = response.body ? new Uint8Array(await response.arrayBuffer()) : undefined
  // The answer is buffered, so its length is known: no chunked framing, and clients can size it.
  if (body && !response.headers.has('content-length')) headers['content-length'] = String(body.byteLength)
  res.writeHead(response.status, headers)
  res.end(body)
}

/**
 * Adapts a fetch-style handler (such as `createOutboxHandler`'s) to Node's
 * `http.createServer(listener)`: the request body streams into the handler, and the request's
 * `signal` aborts when the client disconnects. Answers are buffered, which suits JSON acks.
 */
export function toNodeListener(handler: (request: Request) => Promise<Response>): NodeListener {
  return (req, res) => {
    const controller = new AbortController()
    res.once('close', () => {
      if (!res.writableFinished) controller.abort()
    })
    void (async () => {
      let response: Response
      try {
        response = await handler(toRequest(req, controller.signal))
      } catch {
        response = new Response(
          JSON.stringify({ ok: false, code: 'internal', retryable: true, message: 'The server failed; retry.' }),
          {
            status: 500,
            headers: { 'content-type': 'application/json; charset=utf-8' },
          },
        )
      }
      try {
        await send(res, response)
      } catch {
        // The client went away mid-answer; there is nobody left to tell.
      }
    })()
  }
}
