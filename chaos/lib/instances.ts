import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../scripts/redis-server.ts'

const ENTRY = join(dirname(fileURLToPath(import.meta.url)), 'instance.ts')

/**
 * `count` server processes (`instance.ts`) on their own 127.0.0.1 ports, sharing one Redis.
 * `next()` picks them round-robin for the proxy; `kill(i)` is a SIGKILL (no cleanup of any kind),
 * `start(i)` brings one back on the same port.
 */
export async function startInstances(options: { count: number; redisUrl: string; leaseMs: number; seed: number }) {
  const ports = await Promise.all(Array.from({ length: options.count }, () => freePort()))
  const children: Array<ChildProcess | undefined> = []
  const errors: string[] = []
  let starts = 0
  let turn = 0

  const start = async (i: number) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=source',
        ENTRY,
        `${ports[i]}`,
        options.redisUrl,
        `${options.leaseMs}`,
        `${options.seed + 100 * i + starts++}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    children[i] = child
    child.stderr?.on('data', (chunk: Buffer) => {
      for (const line of String(chunk).split('\n')) if (line.trim()) errors.push(line.trim())
    })
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => String(chunk).includes('ready') && resolve())
      child.once('exit', (code) => reject(new Error(`instance ${i} exited (${code}) before it was ready`)))
    })
    child.removeAllListeners('exit')
  }

  const kill = async (i: number) => {
    const child = children[i]
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }

  await Promise.all(ports.map((_, i) => start(i)))
  return {
    ports,
    errors,
    next: () => `http://127.0.0.1:${ports[turn++ % ports.length]}`,
    start,
    kill,
    close: () => Promise.all(ports.map((_, i) => kill(i))),
  }
}
