// The repository's own redis-server for tests, the chaos harness and the bench (one copy for all three).
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A port nothing listens on now, on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/**
 * A real `redis-server` of its own, on a free 127.0.0.1 port, with AOF on and a temporary
 * directory: `stop()` kills it and removes the directory; `restart()` kills it and starts it again
 * on the same port and data (the AOF is replayed); `pause()`/`resume()` freeze it (SIGSTOP), so
 * calls wait unanswered as they would for a Redis that hangs.
 */
export async function startRedis(binary = process.env.REDIS_SERVER ?? 'redis-server') {
  const dir = mkdtempSync(join(tmpdir(), 'outbox-redis-'))
  const port = await freePort()
  let child: ChildProcess

  const launch = async () => {
    child = spawn(
      binary,
      ['--port', `${port}`, '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let log = ''
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        log += chunk
        if (log.includes('Ready to accept connections')) resolve()
      })
      child.once('error', reject)
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${log}`)))
    })
    child.stdout?.removeAllListeners('data').resume()
    child.removeAllListeners('exit')
  }

  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }

  await launch()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    async restart() {
      await kill()
      await launch()
    },
    async stop() {
      child.kill('SIGCONT')
      await kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export type RedisServer = Awaited<ReturnType<typeof startRedis>>
