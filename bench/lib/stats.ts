/** Medians with min and max over repetitions. */
export type Summary = { median: number; min: number; max: number; n: number; samples: number[] }

export function summarize(samples: readonly number[]): Summary {
  const clean = samples.filter((s) => Number.isFinite(s))
  const sorted = [...clean].sort((a, b) => a - b)
  const n = sorted.length
  if (n === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0, samples: [...samples] }
  const mid = n >> 1
  const median = n % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
  return { median, min: sorted[0] as number, max: sorted[n - 1] as number, n, samples: [...samples] }
}

/** Formats a number with a sensible precision for a table. */
export function fmt(value: number): string {
  if (!Number.isFinite(value)) return 'n/a'
  const abs = Math.abs(value)
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US').replace(/,/g, ' ')
  if (abs >= 100) return value.toFixed(0)
  if (abs >= 10) return value.toFixed(1)
  if (abs >= 1) return value.toFixed(2)
  return value.toFixed(3)
}
