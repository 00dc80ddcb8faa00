import { type AckReader, failAll, readAck, readAppAck, readBatchAcks } from './ack.ts'
import { isRetryableStatus } from './retry.ts'
import { parseRetryAfter } from './retry-after.ts'
import type { DeliveryResult, EmitEnvelope } from './types.ts'

/**
 * The results an HTTP answer gives its envelopes: a 2xx is read as acks (the outbox's, or the
 * app's API through `readAnswer`); any other status is an `http` error with the server's message,
 * hint and `Retry-After`.
 */
export function readResults(
  envelopes: readonly EmitEnvelope[],
  response: Response,
  json: unknown,
  readAnswer: AckReader | undefined,
  batchMode: boolean,
): DeliveryResult[] {
  if (response.ok) {
    if (readAnswer) {
      const answer = { status: response.status, headers: response.headers, body: json }
      return envelopes.map((e) => readAppAck(readAnswer, answer, e))
    }
    return batchMode ? readBatchAcks(envelopes, json) : [readAck((envelopes[0] as EmitEnvelope).emitId, json)]
  }
  const status = response.status
  const reason = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {}
  const retryAfterMs =
    status === 429 || status === 503 ? parseRetryAfter(response.headers.get('retry-after'), Date.now()) : undefined
  return failAll(
    envelopes,
    {
      kind: 'http',
      code: status,
      message:
        typeof reason.message === 'string'
          ? reason.message
          : `HTTP ${status}${response.statusText ? ` ${response.statusText}` : ''}`,
      // The default verdict, for callers of the transport alone; an outbox classifies again with its hardErrorCodes.
      retryable: isRetryableStatus(status),
      ...(typeof reason.hint === 'string' ? { hint: reason.hint } : {}),
    },
    retryAfterMs,
  )
}
