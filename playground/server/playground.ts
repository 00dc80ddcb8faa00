import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { getRequestListener } from '@hono/node-server'
import { createServer as createVite, type ViteDevServer } from 'vite'
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
 * One Node process, one port: the API (Hono + `@outbox/server`) under `/api/`, and Vite in
 * middleware mode for the pages, with its HMR websocket on the same server.
 */
export async function startPlayground(options: PlaygroundOptions = {}): Promise<Playground> {
  const host = options.host ?? '127.0.0.1'
  const worlds = createWorlds()
  const api = getRequestListener(createApp(worlds).fetch)
  const http: Server = createServer()
  const vite = await createVite({
    root,
    configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)),
    logLevel: options.logs === false ? 'silent' : 'info',
    server: { middlewareMode: true, hmr: { server: http } },
    appType: 'mpa',
  })
  http.on('request', (req, res) => {
    if (req.url?.startsWith('/api/')) void api(req, res)
    else
      vite.middlewares(req, res, () => {
        res.statusCode = 404
        res.end('Not found')
      })
  })
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(options.port ?? 5173, host, () => resolve())
  })
  const { port } = http.address() as AddressInfo
  return {
    url: `http://${host}:${port}/`,
    worlds,
    vite,
    async close() {
      await vite.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}
