import type { Browser } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Playground, startPlayground } from '../server/playground.ts'
import { uniqueUser, waitFor } from './helpers.ts'
import { ChatPage, type Framework, launchChromium } from './page-driver.ts'

let pg: Playground
let browser: Browser
const open: ChatPage[] = []

beforeAll(async () => {
  ;[pg, browser] = await Promise.all([startPlayground({ port: 0, logs: false }), launchChromium()])
})
afterAll(async () => {
  await browser?.close()
  await pg?.close()
})
afterEach(async () => {
  for (const page of open.splice(0)) {
    expect(page.errors, 'errors thrown in the page').toEqual([])
    await page.close()
  }
})

const openPage = async (framework: Framework, name: string) => {
  const page = await ChatPage.open(browser, pg, framework, uniqueUser(`${framework}-${name}`))
  open.push(page)
  return page
}

describe.each(['svelte', 'vue'] as const)('the %s page', (framework) => {
  it('delivers every message exactly once and in order through lost acks, going offline and a reload', async () => {
    const chat = await openPage(framework, 'delivery')
    const texts = [1, 2, 3, 4, 5, 6].map((n) => `${framework} message ${n}`)

    // Online, but every ack is lost: the first message is applied, the page cannot know it.
    await chat.fault({ dropAcks: 'all' })
    for (const text of texts.slice(0, 3)) await chat.send(text)
    await waitFor(() => chat.world.view().messages.length === 1, 'the server to apply the first message')
    await waitFor(() => (chat.world.counters.requests['user:message'] ?? 0) >= 2, 'a retry of the first message')
    expect((await chat.rows()).map((r) => r.status)).not.toContain('delivered')

    // Offline: three more wait, stored, behind the three in the queue.
    await chat.fault({ offline: true })
    for (const text of texts.slice(3)) await chat.send(text)
    expect(chat.world.view().messages.map((m) => m.text)).toEqual(texts.slice(0, 1))
    await waitFor(async () => (await chat.storedCount()) >= 6, 'the six messages to be stored in IndexedDB')

    // A reload mid-way: everything pending comes back from IndexedDB, in order, still undelivered.
    await chat.reload()
    await waitFor(async () => (await chat.rows()).length === 6, 'six rows after the reload')
    const afterReload = await chat.rows()
    expect(afterReload.map((r) => r.text)).toEqual(texts)
    // The first one was sent before: it comes back 'waiting' (for its next attempt), the rest 'queued'.
    for (const row of afterReload) expect(['queued', 'waiting']).toContain(row.status)
    expect(await chat.page.getByTestId('online').textContent()).toBe('offline')

    // Back online with every other ack still lost: each message is acked on a retry.
    await chat.fault({ dropAcks: 'alternate' })
    await chat.fault({ offline: false })
    for (const text of texts) await chat.until(text, 'delivered', 30_000)

    const server = chat.world.view()
    expect(
      server.messages.map((m) => m.text),
      'applied in emit order',
    ).toEqual(texts)
    expect(Object.values(server.counters.messageApplies), 'each message applied once').toEqual(Array(6).fill(1))
    expect(server.counters.applied['user:message']).toBe(6)
    expect(server.counters.requests['user:message'], 'requests, retries included').toBeGreaterThan(6)
    expect(server.counters.acksDropped).toBeGreaterThanOrEqual(2)
    expect((await chat.rows()).map((r) => r.status)).toEqual(Array(6).fill('delivered'))
    expect(await chat.page.getByTestId('queue-size').textContent()).toBe('0 pending')
  })

  it('shows read receipts replayed, typing coalesced, a rejection with a hint, and a tool call run once', async () => {
    const chat = await openPage(framework, 'cases')
    const { page } = chat

    // (1) pending at once, then a tick.
    await chat.send('hello bot')
    await chat.until('hello bot', 'delivered')
    await page.getByTestId('bot-message').first().waitFor()

    // (2) a read receipt made offline is replayed after reconnecting.
    await chat.fault({ offline: true })
    await page.getByRole('button', { name: 'Mark read (1)' }).click()
    await page.locator('[data-lane="general"]').getByText('chat:read').waitFor()
    expect(chat.world.view()).toMatchObject({ readReceipts: 0, unread: 1 })
    await chat.fault({ offline: false })
    await waitFor(() => chat.world.view().readReceipts === 1, 'the read receipt to arrive')
    expect(chat.world.view().unread).toBe(0)

    // (4) typing: a keystroke-by-keystroke burst reaches the server as a start and a stop.
    const keystrokes = async () =>
      Number((await page.getByTestId('typing-stats').textContent())?.match(/(\d+) keystrokes/)?.[1])
    const keysBefore = await keystrokes()
    const eventsBefore = chat.world.view().typing.events
    const input = page.getByLabel('Message')
    const typed = 'typing indicators coalesce'
    await input.pressSequentially(typed, { delay: 15 })
    await waitFor(() => chat.world.view().typing.typing, 'the server to see the user typing')
    await input.press('Enter')
    await chat.until(typed, 'delivered')
    await waitFor(() => !chat.world.view().typing.typing, 'the server to see typing stop')
    const events = chat.world.view().typing.events - eventsBefore
    expect(await keystrokes()).toBe(keysBefore + typed.length)
    expect(events, `typing events for ${typed.length} keystrokes`).toBeGreaterThanOrEqual(2)
    expect(events).toBeLessThanOrEqual(4)

    // (3) rejected by the server: reason, hint, Discard.
    await chat.send('buy spam here')
    await chat.until('buy spam here', 'failed')
    const rejected = chat.message('buy spam here').getByTestId('failure')
    await expect(rejected.textContent()).resolves.toMatch(/not allowed.*Remove “spam”/)
    await rejected.getByRole('button', { name: 'Discard' }).click()
    await waitFor(async () => (await chat.message('buy spam here').count()) === 0, 'the discarded message to go')

    // (3) a 403 fails at once with its hint; Retry after "signing in" delivers it.
    await chat.fault({ status: 403 })
    await chat.send('after sign-in')
    await chat.until('after sign-in', 'failed')
    await expect(chat.message('after sign-in').getByTestId('failure').textContent()).resolves.toContain('Sign in again')
    await chat.fault({ status: 0 })
    await chat.message('after sign-in').getByRole('button', { name: 'Retry' }).click()
    await chat.until('after sign-in', 'delivered')

    // (5) a tool call whose acks are lost runs once; its retries are answered from the first run.
    await chat.fault({ dropAcks: 'all' })
    await page.getByRole('button', { name: 'Run tool' }).click()
    await waitFor(() => (chat.world.counters.requests['tool:call'] ?? 0) >= 3, 'the tool call to be retried')
    await chat.fault({ dropAcks: 'off' })
    const tool = page.getByTestId('tool-call')
    await waitFor(async () => (await tool.getAttribute('data-status')) === 'delivered', 'the tool call to be delivered')
    await expect(tool.getByTestId('ticket').textContent()).resolves.toBe('T-0001')
    expect(chat.world.view().toolExecutions).toBe(1)
    expect(chat.world.view().counters.applied['tool:call']).toBe(1)

    // For the screenshot: a rejection left to act on, and a message waiting out a 503's Retry-After
    // with the breaker open ("server unavailable, retrying at …").
    await chat.send('more spam, kept to show Retry and Discard')
    await chat.until('more spam, kept to show Retry and Discard', 'failed')
    await chat.fault({ status: 503 })
    await chat.send('this one waits for the server')
    await chat.until('this one waits for the server', 'waiting')
    await page.getByTestId('breaker-banner').getByText('Server unavailable, retrying at').waitFor()
    expect(await page.getByTestId('failure').count(), 'failed typing events are not shown').toBe(1)
    await chat.screenshot()
  })

  it('holds messages through an expired token, signs in again, then delivers them in order', async () => {
    const chat = await openPage(framework, 'token')
    const { page } = chat
    await chat.send('signed in')
    await chat.until('signed in', 'delivered')

    await chat.fault({ tokenExpired: true })
    const texts = [1, 2, 3].map((n) => `${framework} after expiry ${n}`)
    for (const text of texts) await chat.send(text)
    // The first 401 stops every lane; the pill shows while the page signs in again.
    await page.getByTestId('auth').getByText('signing in again').waitFor()
    for (const text of texts) await chat.until(text, 'delivered')
    await page.getByTestId('auth').waitFor({ state: 'detached' })

    const server = chat.world.view()
    expect(
      server.messages.map((m) => m.text),
      'applied in emit order',
    ).toEqual(['signed in', ...texts])
    expect(Object.values(server.counters.messageApplies), 'each message applied once').toEqual(Array(4).fill(1))
    expect(server.counters.unauthorized, '401 answers').toBeGreaterThanOrEqual(1)
    expect(server.counters.signIns, 'the first sign-in, and one again').toBe(2)
    expect(await page.getByTestId('failure').count(), 'nothing failed').toBe(0)
    expect(await page.getByTestId('queue-size').textContent()).toBe('0 pending')
  })
})
