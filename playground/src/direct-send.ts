import type { EmitEnvelope } from '@outbox/core'

/** How an event sent with the outbox switched off fared. */
export type DirectResult = { status: 'sent'; ack: Record<string, unknown> } | { status: 'lost' }

/**
 * One plain `POST` with no retry and nothing kept: what an app does without an outbox. Lost when
 * the request fails or the answer is not an ack.
 */
export async function directSend(
  url: string,
  envelope: EmitEnvelope,
  headers: Record<string, string> = {},
): Promise<DirectResult> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'idempotency-key': `"${envelope.emitId}"` },
      body: JSON.stringify(envelope),
    })
    const ack = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined
    return response.ok && ack?.ok === true ? { status: 'sent', ack } : { status: 'lost' }
  } catch {
    return { status: 'lost' }
  }
}
