import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { watchRegistrations } from '../../scripts/service-worker-cdp.ts'
import { type Playground, startPlayground } from '../server/playground.ts'
import { uniqueUser, waitFor } from './helpers.ts'
import { ChatPage, launchChromium, VIEWPORT } from './page-driver.ts'

let pg: Playground
let browser: Browser

beforeAll(async () => {
  ;[pg, browser] = await Promise.all([startPlayground({ port: 0, logs: false }), launchChromium()])
})
afterAll(async () => {
  await browser?.close()
  await pg?.close()
})

describe.each(['svelte', 'vue'] as const)('the service worker switch of the %s page', (framework) => {
  it('delivers what a closed tab left behind on a sync event, and lists it as delivered after the tab closed', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT })
    try {
      const user = uniqueUser(`sw-${framework}`)
      const chat = await ChatPage.openIn(context, pg, framework, user)
      const { page } = chat
      await page
        .getByTestId('faults')
        .getByRole('checkbox', { name: /Service worker/ })
        .check()
      await waitFor(
        () =>
          page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.active?.state === 'activated'),
        'the playground service worker to be active',
      )

      // The server is unreachable: the messages wait, stored, and the page registers its sync tag.
      await chat.fault({ blackhole: true })
      const texts = [1, 2, 3].map((n) => `${framework} sent before closing ${n}`)
      for (const text of texts) await chat.send(text)
      await waitFor(async () => (await chat.storedCount()) >= 3, 'the messages to be stored')
      await waitFor(
        () =>
          page.evaluate(async (tag) => {
            const registration = (await navigator.serviceWorker.getRegistration()) as
              | (ServiceWorkerRegistration & { sync: { getTags(): Promise<string[]> } })
              | undefined
            return (await registration?.sync.getTags())?.includes(tag)
          }, `outbox:playground:${user}`),
        'the page to register its Background Sync tag',
      )
      expect(chat.errors).toEqual([])
      await page.close({ runBeforeUnload: true })

      // No page of the app is open, only a blank one to speak the DevTools protocol.
      const driver = await context.newPage()
      const cdp = await context.newCDPSession(driver)
      const registrations = await watchRegistrations(cdp)
      const registration = await waitFor(() => registrations.get(pg.url), 'the worker registration')
      expect(context.pages().map((p) => p.url())).toEqual(['about:blank'])
      // The closed page's last-chance request (`fetchLater`) went out into the blackhole too; the
      // server comes back only after it, so what follows can only be the worker's doing.
      await waitFor(
        () => chat.world.counters.requestsBySender['fetch-later'] > 0,
        "the closed page's fetchLater request",
      )
      chat.world.setFaults({ blackhole: false })
      await cdp.send('ServiceWorker.dispatchSyncEvent', {
        origin: new URL(pg.url).origin,
        registrationId: registration.registrationId,
        tag: `outbox:playground:${user}`,
        lastChance: false,
      })
      await waitFor(() => chat.world.view().messages.length === 3, 'the worker to deliver the three messages')

      const server = chat.world.view()
      expect(
        server.messages.map((m) => m.text),
        'applied in emit order',
      ).toEqual(texts)
      expect(Object.values(server.counters.messageApplies), 'each applied once').toEqual([1, 1, 1])
      expect(
        server.late.filter((l) => l.event === 'user:message').map((l) => [l.sender, l.what]),
        'every message came from the service worker',
      ).toEqual(texts.map((text) => ['worker', `“${text}”`]))

      // A page opened later (elsewhere, so it has nothing of its own to re-send) lists them.
      const viewer = await ChatPage.open(browser, pg, framework, user)
      try {
        const late = viewer.page.getByTestId('late')
        await waitFor(
          async () => (await late.locator('[data-sender="worker"]').count()) >= 3,
          'the late deliveries to show',
        )
        for (const text of texts) await late.getByText(text).waitFor()
        expect(viewer.errors).toEqual([])
      } finally {
        await viewer.close()
      }
    } finally {
      await context.close()
    }
  })
})
