/** A request the handler refuses before any envelope is applied (400, 405, 413). */
export class RequestProblem extends Error {
  override readonly name = 'RequestProblem'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** A JSON response that no cache keeps: every answer is about one delivery attempt. */
export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  })

/** The body of a refusal: `{ ok: false, code, message }`. */
export const problem = (error: RequestProblem, headers?: Record<string, string>): Response =>
  json(error.status, { ok: false, code: error.code, message: error.message }, headers)
