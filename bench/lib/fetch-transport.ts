import type { EmitEnvelope, Transport } from '@outbox/core'

/** A transport with no ky: one `fetch` per call, the wire format by hand (isolates ky's cost). */
export function fetchTransport(url: string, batch: number): Transport {
  return {
    maxBatch: batch,
    async send(list, signal) {
      const first = list[0] as EmitEnvelope
      const single = batch === 1
      const res = await fetch(url, {
        method: 'POST',
        headers: single
          ? { 'content-type': 'application/json', 'idempotency-key': `"${first.emitId}"` }
          : { 'content-type': 'application/json' },
        body: JSON.stringify(single ? first : { envelopes: list }),
        signal,
      })
      const body = (await res.json()) as Record<string, unknown> & { results?: Array<Record<string, unknown>> }
      const answers = single ? [body] : (body.results ?? [])
      return answers.map((a) =>
        a.ok === true
          ? { emitId: String(a.emitId), ok: true as const, ack: a }
          : {
              emitId: String(a.emitId),
              ok: false as const,
              error: {
                kind: 'rejected' as const,
                code: String(a.code),
                message: 'rejected',
                retryable: a.retryable === true,
              },
            },
      )
    },
  }
}
