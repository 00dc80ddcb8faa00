import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createOutboxHandler, memoryStore, toNodeListener } from '@outbox/server'

/**
 * One local server on 127.0.0.1 for the whole run: the bench page and its bundle, and
 * `POST /api/events` handled by @outbox/server (on node:http, as its README shows). The page and
 * the API share an origin, so no request needs a CORS preflight.
 */
export async function startServer(bundle: string): Promise<{ url: string; server: Server; requests: () => number }> {
  const events = toNodeListener(
    createOutboxHandler({
      apply: () => undefined, // the ack is { ok: true, emitId }
      store: memoryStore({ maxEntries: 200_000 }),
    }),
  )
  let requests = 0
  const page = `<!doctype html>
<meta charset="utf-8">
<title>@outbox bench</title>
<script>
  // workbox-background-sync expects a service worker's self.registration; a stub is enough here.
  self.registration = { sync: { register: async () => {} } }
</script>
<script src="/bench.js"></script>
`
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path === '/api/events') {
      requests++
      events(req, res)
    } else if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      res.end(page)
    } else if (path === '/favicon.ico') {
      res.writeHead(204)
      res.end()
    } else if (path === '/bench.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' })
      res.end(bundle)
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('not found')
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, server, requests: () => requests }
}
