import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The bench folder: child scripts are named relative to it, and run in it. */
const bench = fileURLToPath(new URL('..', import.meta.url))

/**
 * Runs a bench script (`file`, relative to the bench folder) in a child Node process with `config`
 * as its JSON argument, and resolves with the `result` of the last line it prints. With
 * BENCH_SOURCE, `@outbox/*` come from their sources. Killed after 5 minutes.
 */
export function child(file: string, config: unknown, flags: string[] = []): Promise<unknown> {
  const conditions = process.env.BENCH_SOURCE ? ['--conditions=source'] : []
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      [...flags, ...conditions, '--import', 'tsx', join(bench, file), JSON.stringify(config)],
      { cwd: bench, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    proc.stdout.on('data', (d) => (out += d))
    const timer = setTimeout(() => proc.kill(), 300_000)
    proc.on('close', (code) => {
      clearTimeout(timer)
      const line = out.trim().split('\n').pop() ?? ''
      try {
        resolve((JSON.parse(line) as { result: unknown }).result)
      } catch {
        reject(new Error(`${file} ${JSON.stringify(config)} exited ${code}: ${out.slice(-500)}`))
      }
    })
  })
}
