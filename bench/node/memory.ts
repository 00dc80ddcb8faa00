/**
 * Heap per pending item (memory mode): `n` items with a 300-byte payload held by a paused outbox.
 * Run with --expose-gc: node --expose-gc --import tsx node/memory.ts '{"n":100000}'
 * Prints one JSON line. The same items as plain envelopes in an array are measured after, as the
 * floor that the data itself costs.
 */
import { createOutbox, type Transport } from '@outbox/core'
import { chatPayload, PAYLOAD_BYTES } from '../lib/payload.ts'

const { n = 100_000 } = JSON.parse(process.argv[2] ?? '{}') as { n?: number }
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with --expose-gc')
const heap = () => {
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage().heapUsed
}
const silent: Transport = { send: () => new Promise<never>(() => {}) }

// Warm up: the outbox's code paths and lazily created structures exist before the baseline.
{
  const warm = createOutbox({ transport: silent })
  warm.pause()
  for (let i = 0; i < 100; i++) warm.emit('user:message', chatPayload(i))
  await warm.close()
}

const before = heap()
let outbox: ReturnType<typeof createOutbox> | undefined = createOutbox({ transport: silent, maxSize: n + 1 })
outbox.pause()
for (let i = 0; i < n; i++) outbox.emit('user:message', chatPayload(i))
await new Promise((r) => setTimeout(r, 10))
const after = heap()
const size = outbox.size.value
// Reading `pending` materializes the array a UI renders from; measure what it adds.
const pending = outbox.pending.value
const withPending = heap()
const perItem = (after - before) / n
const pendingPerItem = (withPending - after) / n
void pending.length
await outbox.close()
outbox = undefined

// The floor: the same envelopes as plain objects in one array (what any queue must hold).
const base = heap()
const plain: unknown[] = []
for (let i = 0; i < n; i++) {
  const payload = chatPayload(i)
  plain.push(
    JSON.parse(
      JSON.stringify({
        emitId: `01JZ${String(i).padStart(22, '0')}`,
        event: 'user:message',
        payload,
        keys: { messageId: payload.messageId },
        lane: 'c1',
        createdAt: Date.now(),
      }),
    ),
  )
}
const plainPerItem = (heap() - base) / n
void plain.length

process.stdout.write(
  `${JSON.stringify({
    result: {
      n,
      size,
      payloadBytes: PAYLOAD_BYTES,
      perItem,
      pendingPerItem,
      plainPerItem,
      overhead: perItem - plainPerItem,
    },
  })}\n`,
)
