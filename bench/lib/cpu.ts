/** For development probes: the CPU time the browser uses, read from /proc (Linux). */
import { readdirSync, readFileSync } from 'node:fs'

/**
 * CPU seconds (user+sys) of the chromium processes by kind: `browser`, `renderer`, and each
 * utility service by its first name (`network`, `storage`).
 */
export function chromiumCpuByKind(): Record<string, number> {
  const out: Record<string, number> = {}
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8')
      if (!/chrom/i.test(comm)) continue
      // Chromium rewrites its process title, so the arguments may be joined by spaces.
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/)
      const arg = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
      const kind = (arg('utility-sub-type') ?? arg('type') ?? 'browser').split('.')[0] as string
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      out[kind] = (out[kind] ?? 0) + (Number(f[11]) + Number(f[12])) / 100
    } catch {}
  }
  return out
}
