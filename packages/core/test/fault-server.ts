import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { applyInLaneOrder, createLedger } from './ledger.ts'

export type Fault = 'none' | '500' | '429' | '503' | 'drop-before' | 'drop-after' | 'html-200' | 'slow'

type Envelope = { emitId: string; event: string; payload: Record<string, unknown>; lane: string }

/** A deterministic PRNG (mulberry32), so a failing chaos run can be replayed by seed. */
export function prng(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * An idempotent events server on 127.0.0.1 that injects faults before or after applying, and
 * records every application so tests can check exactly-once and lane order.
 */
export async function startFaultServer(
  options: { fault?: (req: number) => Fault; slowMs?: number; reject?: (e: Envelope) => boolean } = {},
) {
  const { applied, laneLog, results, record } = createLedger()
  const requests: Array<{ headers: IncomingMessage['headers']; body: unknown }> = []
  const faults = new Map<Fault, number>()
  let n = 0

  const apply = (e: Envelope): Record<string, unknown> => {
    const stored = results.get(e.emitId)
    if (stored) return stored
    if (options.reject?.(e)) {
      const rejection = { ok: false, emitId: e.emitId, code: 'forbidden-word', hint: 'Remove the word and send again.' }
      results.set(e.emitId, rejection)
      return rejection
    }
    return record(e)
  }

  const applyBatch = (envelopes: Envelope[]) => applyInLaneOrder(envelopes, apply)

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    requests.push({ headers: req.headers, body })
    const fault = options.fault?.(n++) ?? 'none'
    faults.set(fault, (faults.get(fault) ?? 0) + 1)
    const answer = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers })
      res.end(JSON.stringify(json))
    }
    switch (fault) {
      case '500':
        return answer(500, { ok: false, code: 'boom' })
      case '429':
        return answer(429, { ok: false }, { 'retry-after': '0' })
      case '503':
        return answer(503, { ok: false }, { 'retry-after': '0' })
      case 'drop-before':
        return req.socket.destroy()
      case 'html-200':
        res.writeHead(200, { 'content-type': 'text/html' })
        return res.end('<html><body>Please sign in to the Wi-Fi</body></html>')
      case 'slow':
        await new Promise((r) => setTimeout(r, options.slowMs ?? 200))
        break
    }
    const result = Array.isArray(body.envelopes) ? { results: applyBatch(body.envelopes) } : apply(body)
    if (fault === 'drop-after') return req.socket.destroy()
    answer(200, result)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      res.writeHead(500)
      res.end(String(error))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/events`,
    applied,
    laneLog,
    requests,
    faults,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
