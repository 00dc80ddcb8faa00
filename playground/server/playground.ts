import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { getRequestListener } from '@hono/node-server'
import { createServer as createVite, type ViteDevServer } from 'vite'
import { WORKER_URL } from '../src/service-worker.ts'
import { createApp, createWorlds, type Worlds } from './app.ts'

export type PlaygroundOptions = {
  /** Default 127.0.0.1. */
  host?: string
  /** Default 5173; 0 picks a free port (tests). */
  port?: number
  /** Print Vite's own logs; default true. */
  logs?: boolean
}

export type Playground = {
  /** `http://127.0.0.1:<port>/` */
  url: string
  /** The server's per-user state, for tests that look at it directly. */
  worlds: Worlds
  vite: ViteDevServer
  close(): Promise<void>
}

const root = fileURLToPath(new URL('..', import.meta.url))

/**
 * `src/sw.ts` as a module service worker, transformed by Vite like the pages' modules (its imports
 * are Vite's module URLs), at the root so that its scope covers both pages.
 */
async function serveWorker(vite: ViteDevServer, res: ServerResponse): Promise<void> {
  try {
    const result = await vite.transformRequest('/src/sw.ts')
    if (!result) throw new Error('Vite did not transform src/sw.ts')
    res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-cache' }).end(result.code)
  } catch (error) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(`The service worker did not build: ${String(error)}`)
  }
}

/**
 * One Node process, one port: the API (Hono + `@outbox/server`) under `/api/`, and Vite in
 * middleware mode for the pages, with its HMR websocket on the same server.
 */
export async function startPlayground(options: PlaygroundOptions = {}): Promise<Playground> {
  const host = options.host ?? '127.0.0.1'
  const worlds = createWorlds()
  const api = getRequestListener(createApp(worlds).fetch)
  let vite: ViteDevServer | undefined
  const http: Server = createServer((req, res) => {
    if (req.url?.startsWith('/api/')) void api(req, res)
    else if (vite && req.url?.split('?')[0] === WORKER_URL) void serveWorker(vite, res)
    else if (!vite) res.writeHead(503, { 'retry-after': '1' }).end('Starting, reload in a second.')
    else
      vite.middlewares(req, res, () => {
        res.statusCode = 404
        res.end('Not found')
      })
  })
  // The port first, so a taken one fails fast, before Vite starts.
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(options.port ?? 5173, host, () => {
      http.off('error', reject)
      resolve()
    })
  })
  try {
    vite = await createVite({
      root,
      configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)),
      logLevel: options.logs === false ? 'silent' : 'info',
      server: { middlewareMode: true, hmr: { server: http } },
      appType: 'mpa',
    })
  } catch (error) {
    http.close()
    throw error
  }
  const started = vite
  const { port } = http.address() as AddressInfo
  return {
    url: `http://${host}:${port}/`,
    worlds,
    vite: started,
    async close() {
      await started.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}
