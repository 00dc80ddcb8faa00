import type { Outbox } from '@outbox/core'
import { type Readable, writable } from './store.ts'

export type SizeSample = { at: number; size: number; failed: number }

/** Samples the queue size of whichever outbox `outbox` holds, for the chart. */
export function sizeHistory(outbox: Readable<Outbox>, { everyMs = 500, windowMs = 60_000 } = {}) {
  const samples = writable<readonly SizeSample[]>([])
  let box: Outbox | undefined
  const stop = outbox.subscribe((b) => (box = b))
  const sample = () => {
    if (!box) return
    const now = Date.now()
    const next = { at: now, size: box.size.peek(), failed: box.failed.peek().length }
    samples.update((list) => [...list.filter((s) => s.at > now - windowMs), next])
  }
  sample()
  const timer = setInterval(sample, everyMs)
  return {
    samples: samples as Readable<readonly SizeSample[]>,
    windowMs,
    stop() {
      clearInterval(timer)
      stop()
    },
  }
}

export type SizeHistory = ReturnType<typeof sizeHistory>

export type ChartGeometry = { line: string; area: string; max: number; failedLine: string; spanS: number }

/**
 * SVG paths for the samples in a `width` × `height` box, newest at the right edge. The time axis
 * spans the samples (15 s at least, `windowMs` at most), so a fresh page fills the chart.
 */
export function chartPaths(
  samples: readonly SizeSample[],
  width: number,
  height: number,
  windowMs: number,
): ChartGeometry {
  const last = samples.at(-1)
  const first = samples[0]
  if (!last || !first) return { line: '', area: '', max: 1, failedLine: '', spanS: 0 }
  const span = Math.min(windowMs, Math.max(15_000, last.at - first.at))
  const max = Math.max(4, ...samples.map((s) => Math.max(s.size, s.failed)))
  const x = (at: number) => (width * (1 - (last.at - at) / span)).toFixed(1)
  const y = (v: number) => (height - 2 - ((height - 4) * v) / max).toFixed(1)
  // Steps, not slopes: the queue size changes at an instant and holds.
  const steps = (value: (s: SizeSample) => number) =>
    samples
      .map((s, i) => {
        const prev = samples[i - 1]
        return i === 0
          ? `M${x(s.at)},${y(value(s))}`
          : `H${x(s.at)}${prev && value(prev) !== value(s) ? `V${y(value(s))}` : ''}`
      })
      .join('')
  const line = steps((s) => s.size)
  return {
    line,
    area: `${line}V${height}H${x(first.at)}Z`,
    max,
    failedLine: steps((s) => s.failed),
    spanS: Math.round(span / 1000),
  }
}
