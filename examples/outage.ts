/**
 * Emits survive a server outage: messages are emitted while the server is down, retried with
 * backoff, and delivered exactly once, in order, when it comes back. Run: pnpm example
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createOutbox, httpTransport } from '../packages/core/src/index.ts'

const applied: string[] = []
const seen = new Set<string>()
const server = createServer(async (req, res) => {
  let body = ''
  for await (const chunk of req) body += chunk
  const envelope = JSON.parse(body)
  // An idempotent server: a repeated emitId is answered again, never applied twice.
  if (!seen.has(envelope.emitId)) {
    seen.add(envelope.emitId)
    applied.push(`${envelope.lane}: ${envelope.payload.text}`)
  }
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ ok: true, emitId: envelope.emitId }))
})

// Reserve a port, then take the server down: the outage.
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const { port } = server.address() as AddressInfo
await new Promise<void>((resolve) => server.close(() => resolve()))

const outbox = createOutbox({
  transport: httpTransport({ url: `http://127.0.0.1:${port}/api/events`, timeoutMs: 1000 }),
  retry: { baseMs: 200, maxMs: 1000 },
})
const time = () => new Date().toISOString().slice(11, 23)
outbox.on('outbox:acked', ({ envelope }) => console.log(`${time()}  ✓ delivered ${envelope.payload.text}`))
outbox.subscribe(({ pending }) => {
  const line = pending.map((i) => `${i.payload.text}[${i.status}${i.attempts ? ` ×${i.attempts}` : ''}]`).join(' ')
  if (line) console.log(`${time()}  pending: ${line}`)
})

console.log(`${time()}  server is DOWN; emitting 3 messages in chat c1 and 2 in chat c2`)
const messages = [
  ['c1', 'hello'],
  ['c2', 'hi there'],
  ['c1', 'are you there?'],
  ['c2', 'ping'],
  ['c1', 'bye'],
]
const envelopes = messages.map(([chatId, text]) => outbox.emit('user:message', { chatId, text }))

await new Promise((resolve) => setTimeout(resolve, 2500))
console.log(`${time()}  server is UP again`)
await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))

await Promise.all(envelopes.map((e) => outbox.delivered(e.emitId)))
await outbox.close()
server.close()
console.log(`\nThe server applied ${applied.length} events, each once, in order per chat:`)
for (const line of applied) console.log(`  ${line}`)
