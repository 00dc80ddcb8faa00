import type { HttpBindings } from '@hono/node-server'
import { createOutboxHandler } from '@outbox/server'
import { Hono } from 'hono'
import { type ControlRequest, type Faults, SENDER_HEADER, SENDERS, type Sender } from '../src/protocol.ts'
import { createWorld, type World } from './world.ts'

type Locals = { world: World; sender: Sender }

const USER = /^[\w-]{1,40}$/

/** The users' worlds, created on first use; `reset` forgets one. */
export type Worlds = {
  get(user: string): World
  reset(user: string): void
}

export function createWorlds(): Worlds {
  const worlds = new Map<string, World>()
  return {
    get(user) {
      let world = worlds.get(user)
      if (!world) worlds.set(user, (world = createWorld(user)))
      return world
    },
    reset(user) {
      worlds.delete(user)
    },
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        resolve()
      },
      { once: true },
    )
  })

/** Event names a request carries (single envelope or batch), read from a copy of its body. */
async function eventsOf(request: Request): Promise<string[]> {
  try {
    const body = (await request.clone().json()) as { event?: unknown; envelopes?: Array<{ event?: unknown }> }
    const list = Array.isArray(body.envelopes) ? body.envelopes : [body]
    return list.map((e) => (typeof e?.event === 'string' ? e.event : '?'))
  } catch {
    return ['?']
  }
}

const injected = (f: Faults): Response => {
  const json = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), {
      status,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    })
  const retryAfter = { 'retry-after': String(f.retryAfterS) }
  switch (f.status) {
    case 403:
      return json(403, {
        ok: false,
        code: 'forbidden',
        message: 'Your session has expired (fault panel: 403).',
        hint: 'Sign in again (switch the 403 off), then press Retry.',
      })
    case 429:
      return json(
        429,
        { ok: false, code: 'rate-limited', message: 'Too many requests (fault panel: 429).' },
        retryAfter,
      )
    case 503:
      return json(
        503,
        { ok: false, code: 'unavailable', message: 'Down for maintenance (fault panel: 503).' },
        retryAfter,
      )
    default:
      return json(500, { ok: false, code: 'internal', message: 'The server failed (fault panel: 500).' })
  }
}

const unauthorized = () =>
  new Response(
    JSON.stringify({
      ok: false,
      code: 'unauthorized',
      message: 'Your sign-in expired (fault panel: token expired).',
      hint: 'The page signs in again by itself, then sends what waits.',
    }),
    {
      status: 401,
      headers: {
        'content-type': 'application/json',
        'cache-control': 'no-store',
        'www-authenticate': 'Bearer error="invalid_token"',
      },
    },
  )

/** The bearer token of a request, if it has one. */
const bearer = (request: Request): string | undefined =>
  request.headers
    .get('authorization')
    ?.match(/^Bearer\s+(\S+)$/i)
    ?.at(1)

/** Who sent an event request (`x-outbox-sender`); no header or an unknown value: an open page. */
const senderOf = (request: Request): Sender => {
  const value = request.headers.get(SENDER_HEADER)
  return SENDERS.find((s) => s === value) ?? 'page'
}

/**
 * The playground's API: `/api/events` (the outbox endpoint, behind the fault switches),
 * `/api/state` (one user's world, for the inspector), `/api/control` (fault switches, reset) and
 * `/api/session` (a fresh token: "signing in again").
 */
export function createApp(worlds: Worlds = createWorlds()) {
  const events = createOutboxHandler<Locals>({
    apply: (envelope, { locals }) => locals.world.apply(envelope, locals.sender),
    // Keys of different users never meet: one page cannot replay or block another's emitId.
    scope: (_request, locals) => locals.world.user,
    onError: (error) => console.error('[playground] apply failed:', error),
  })

  const app = new Hono<{ Bindings: Partial<HttpBindings> }>()

  const userOf = (value: string | undefined | null): string | undefined =>
    value && USER.test(value) ? value : undefined

  /** Cuts the TCP connection: what the browser sees when the network drops mid-request. */
  const cut = (c: { env: Partial<HttpBindings> | undefined }) => {
    // Without Node bindings (app.request in tests) there is no socket: a bare 502 stands in.
    c.env?.incoming?.socket.destroy()
    return new Response(null, { status: 502 })
  }

  app.post('/api/events', async (c) => {
    const user = userOf(c.req.query('user')) ?? 'anonymous'
    const world = worlds.get(user)
    const f = world.faults
    const sender = senderOf(c.req.raw)
    world.received(await eventsOf(c.req.raw), sender)
    if (f.offline || f.blackhole) {
      world.counters.cut++
      return cut(c)
    }
    if (f.slowMs > 0) await sleep(f.slowMs, c.req.raw.signal)
    if (!world.authorized(bearer(c.req.raw))) {
      world.counters.unauthorized++
      world.note('auth', 'answered 401: the token expired')
      return unauthorized()
    }
    if (f.status !== 0) {
      world.counters.injected++
      world.note('fault', `answered ${f.status} instead of applying`)
      return injected(f)
    }
    const response = await events(c.req.raw, { world, sender })
    if (response.ok && world.dropThisAck()) {
      world.counters.acksDropped++
      world.note('fault', 'applied, then dropped the ack')
      return cut(c)
    }
    return response
  })

  app.post('/api/session', async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as { user?: unknown }
    const user = userOf(typeof body.user === 'string' ? body.user : undefined)
    if (!user) return c.json({ error: 'Pass { user }.' }, 400)
    c.header('cache-control', 'no-store')
    return c.json({ token: worlds.get(user).signIn() })
  })

  app.get('/api/state', (c) => {
    const user = userOf(c.req.query('user'))
    if (!user) return c.json({ error: 'Pass ?user=<letters, digits, - or _>.' }, 400)
    c.header('cache-control', 'no-store')
    return c.json(worlds.get(user).view())
  })

  app.post('/api/control', async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as Partial<ControlRequest>
    const user = userOf(body.user)
    if (!user) return c.json({ error: 'Pass { user, faults?, reset? }.' }, 400)
    if (body.reset) worlds.reset(user)
    if (body.faults) worlds.get(user).setFaults(pickFaults(body.faults))
    return c.json(worlds.get(user).view())
  })

  return app
}

/** Only known switches with values of the right kind; anything else is ignored. */
function pickFaults(patch: Partial<Faults>): Partial<Faults> {
  const out: Partial<Faults> = {}
  if (typeof patch.offline === 'boolean') out.offline = patch.offline
  if (typeof patch.blackhole === 'boolean') out.blackhole = patch.blackhole
  if ([0, 403, 429, 500, 503].includes(patch.status as number)) out.status = patch.status as Faults['status']
  if (typeof patch.retryAfterS === 'number' && patch.retryAfterS >= 0) out.retryAfterS = Math.min(60, patch.retryAfterS)
  if (patch.dropAcks === 'off' || patch.dropAcks === 'alternate' || patch.dropAcks === 'all')
    out.dropAcks = patch.dropAcks
  if (typeof patch.slowMs === 'number' && patch.slowMs >= 0) out.slowMs = Math.min(10_000, patch.slowMs)
  if (typeof patch.tokenExpired === 'boolean') out.tokenExpired = patch.tokenExpired
  return out
}
