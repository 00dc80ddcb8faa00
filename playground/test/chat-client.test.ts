import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { alwaysOnline } from '@outbox/core'
import { afterEach, describe, expect, it } from 'vitest'
import { createApp, createWorlds, type Worlds } from '../server/app.ts'
import { type ChatClient, type ChatEntry, createChatClient } from '../src/chat-client.ts'
import { switchableNetwork } from '../src/network.ts'
import type { Faults } from '../src/protocol.ts'
import { uniqueUser, waitFor } from './helpers.ts'

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.()
})

type Setup = { client: ChatClient; worlds: Worlds; network: ReturnType<typeof switchableNetwork>; user: string }

/** A real HTTP server on 127.0.0.1 and a chat client (memory outbox, quick retries) talking to it. */
async function setup({
  user = uniqueUser('client'),
  storage = null as Map<string, string> | null,
} = {}): Promise<Setup> {
  const worlds = createWorlds()
  const server = serve({ fetch: createApp(worlds).fetch, hostname: '127.0.0.1', port: 0 })
  await new Promise((resolve) => server.once('listening', resolve))
  cleanups.push(() => new Promise((resolve) => server.close(resolve)))
  const { port } = server.address() as AddressInfo
  const network = switchableNetwork(true, alwaysOnline)
  const client = createChatClient({
    userId: user,
    url: `http://127.0.0.1:${port}/api/events`,
    network,
    storage: storage && {
      getItem: (k) => storage.get(k) ?? null,
      setItem: (k, v) => void storage.set(k, v),
      removeItem: (k) => void storage.delete(k),
    },
    outbox: { mode: 'memory', retry: { baseMs: 20, maxMs: 200 }, breaker: { threshold: 1_000 } },
    signInDelayMs: 50,
  })
  cleanups.push(() => client.close())
  return { client, worlds, network, user }
}

const current = <T>(store: { subscribe(run: (v: T) => void): () => void }): T => {
  let value: T | undefined
  store.subscribe((v) => (value = v))()
  return value as T
}
const entries = (client: ChatClient): readonly ChatEntry[] => current(client.entries)
const faults = (s: Setup, patch: Partial<Faults>) => s.worlds.get(s.user).setFaults(patch)
const view = (s: Setup) => s.worlds.get(s.user).view()

describe('the chat client', () => {
  it('delivers each message once and in order while every other ack is lost', async () => {
    const s = await setup()
    faults(s, { dropAcks: 'alternate' })
    const texts = ['one', 'two', 'three', 'four', 'five']
    for (const text of texts) s.client.sendMessage({ text })
    await waitFor(() => entries(s.client).every((e) => e.ack), 'every message to be acked')
    expect(view(s).messages.map((m) => m.text)).toEqual(texts)
    expect(Object.values(view(s).counters.messageApplies)).toEqual([1, 1, 1, 1, 1])
    expect(view(s).counters.requests['user:message']).toBeGreaterThanOrEqual(10) // each ack lost once
  })

  it('coalesces a burst of typing into a few events', async () => {
    const s = await setup()
    for (let i = 0; i < 30; i++) s.client.typingStart()
    s.client.typingStop()
    expect(current(s.client.keystrokes)).toBe(30)
    const box = current(s.client.outbox)
    await waitFor(() => view(s).typing.events > 0 && box.size.peek() === 0, 'the typing events to settle')
    expect(view(s).typing.events).toBe(1)
    expect(view(s).typing.typing).toBe(false)
  })

  it('runs a tool call exactly once when its ack is lost, and shows the first run’s result', async () => {
    const s = await setup()
    faults(s, { dropAcks: 'all' })
    const call = s.client.callTool({ tool: 'create_ticket' })
    await waitFor(() => (view(s).counters.requests['tool:call'] ?? 0) >= 3, 'the call to be retried')
    faults(s, { dropAcks: 'off' })
    await waitFor(() => entries(s.client)[0]?.ack, 'the ack')
    expect(entries(s.client)[0]?.ack).toMatchObject({ requestId: call.requestId, result: { ticket: 'T-0001' } })
    expect(view(s).toolExecutions).toBe(1)
  })

  it('aborts a tool call that has not left the outbox by discarding it', async () => {
    const s = await setup()
    s.network.setSwitch(false)
    const call = s.client.callTool({ tool: 'create_ticket' })
    expect(s.client.abort({ requestId: call.requestId })).toBe('discarded')
    s.network.setSwitch(true)
    s.client.sendMessage({ text: 'after' })
    await waitFor(() => entries(s.client).find((e) => e.kind === 'message')?.ack, 'the next message')
    expect(view(s).counters.requests['tool:call']).toBeUndefined()
    const entry = entries(s.client)[0] as ChatEntry
    expect(s.client.statusOf(entry, 'unknown')).toBe('cancelled')
  })

  it('without the outbox loses a message sent into an outage; with it again, a re-send arrives once', async () => {
    const s = await setup()
    await s.client.disableOutbox()
    faults(s, { blackhole: true })
    const lost = s.client.sendMessage({ text: 'into the void' })
    await waitFor(() => entries(s.client)[0]?.direct === 'lost', 'the direct send to fail')
    faults(s, { blackhole: false })
    s.client.enableOutbox()
    s.client.resend(entries(s.client)[0] as ChatEntry)
    await waitFor(() => entries(s.client)[0]?.ack, 'the re-send to be acked')
    expect(view(s).messages.map((m) => m.messageId)).toEqual([lost.messageId])
  })

  it('re-sends, after a reload, an entry whose outbox item was never stored', async () => {
    const user = uniqueUser('orphan')
    // What a page leaves behind when it reloads between sendMessage and the storage commit.
    const orphan: ChatEntry = {
      kind: 'message',
      emitId: '01J00000000000000000000000',
      at: 1,
      messageId: 'm-x',
      text: 'orphan',
    }
    const storage = new Map([[`playground:${user}:entries`, JSON.stringify([orphan])]])
    const s = await setup({ user, storage })
    await waitFor(() => entries(s.client)[0]?.ack, 'the orphan to be delivered')
    expect(view(s).messages.map((m) => m.text)).toEqual(['orphan'])
  })

  it('holds every lane on a 401, signs in again, then delivers in order with nothing failed', async () => {
    const s = await setup()
    s.client.sendMessage({ text: 'before' })
    await waitFor(() => entries(s.client)[0]?.ack, 'a first message, with the first token')
    faults(s, { tokenExpired: true })
    const box = current(s.client.outbox)
    const auth: string[] = []
    box.auth.subscribe((value) => auth.push(value))
    const texts = ['one', 'two', 'three', 'four']
    for (const text of texts) s.client.sendMessage({ text })
    s.client.callTool({ tool: 'create_ticket' })
    await waitFor(() => entries(s.client).every((e) => e.ack), 'every event to be acked')
    expect(view(s).messages.map((m) => m.text)).toEqual(['before', ...texts])
    expect(auth).toEqual(['ok', 'required', 'ok'])
    expect(box.failed.peek()).toEqual([])
    expect(view(s).counters.signIns, 'the first sign-in, and one again').toBe(2)
    expect(view(s).counters.unauthorized).toBeGreaterThanOrEqual(1)
    expect(view(s).toolExecutions).toBe(1)
  })
})
