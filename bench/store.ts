/**
 * The idempotency-store figures alone (no Chromium): `memoryStore` next to `redisStore` on a
 * redis-server this script starts and stops, `BENCH_REPS` repetitions (default 5), min / median /
 * max. `pnpm --filter bench bench:store`. The full suite (`run.ts`) measures the same in its Node
 * section.
 */

import { fmt, summarize } from './lib/stats.ts'
import { measureStoreCost, storeSamples } from './lib/store-cost.ts'

const reps = Number(process.env.BENCH_REPS ?? 5)
const n = process.env.BENCH_QUICK === '1' ? 1_000 : 5_000
const samples = new Map<string, number[]>()
for (let rep = 1; rep <= reps; rep++) {
  console.error(`rep ${rep}/${reps}`)
  for (const [id, value] of storeSamples(await measureStoreCost(n, 50)))
    samples.set(id, [...(samples.get(id) ?? []), value])
}
console.log(`| figure (${n} new events, handler called directly) | median | min | max |`)
console.log('| --- | ---: | ---: | ---: |')
for (const [id, values] of samples) {
  const s = summarize(values)
  const unit = id.endsWith('.keys') ? 'keys/s' : 'ms'
  console.log(`| ${id} (${unit}) | ${fmt(s.median)} | ${fmt(s.min)} | ${fmt(s.max)} |`)
}
