import { rename } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core'
import type { Playground } from '../server/playground.ts'
import type { Faults } from '../src/protocol.ts'
import { waitFor } from './helpers.ts'

/** Debian's Chromium (see TOOLCHAIN.md); `CHROMIUM_PATH` points elsewhere. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export const launchChromium = (): Promise<Browser> =>
  chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  })

export const VIEWPORT = { width: 1440, height: 1000 }

export type Framework = 'svelte' | 'vue'
export type Row = { id: string; text: string; status: string }

/**
 * Drives one page of the playground the way a person would (typing, clicking the fault panel)
 * and reads the server's state straight from the in-process playground.
 */
export class ChatPage {
  readonly errors: string[] = []

  private constructor(
    readonly page: Page,
    readonly pg: Playground,
    readonly framework: Framework,
    readonly user: string,
  ) {
    page.on('pageerror', (error) => this.errors.push(String(error)))
  }

  static async open(browser: Browser, pg: Playground, framework: Framework, user: string): Promise<ChatPage> {
    const context = await browser.newContext({ viewport: VIEWPORT })
    return ChatPage.openIn(context, pg, framework, user)
  }

  /** A page in an existing context (its service workers and storage are shared with other pages). */
  static async openIn(context: BrowserContext, pg: Playground, framework: Framework, user: string): Promise<ChatPage> {
    const chat = new ChatPage(await context.newPage(), pg, framework, user)
    await chat.page.goto(`${pg.url}${framework}.html?user=${user}`)
    await chat.ready()
    return chat
  }

  /** The page rendered, and its server feed arrived. */
  async ready(): Promise<void> {
    await this.page.getByTestId('chat').waitFor()
    await this.page.getByTestId('server').locator('.facts').waitFor()
  }

  async reload(): Promise<void> {
    await this.page.reload()
    await this.ready()
  }

  get world() {
    return this.pg.worlds.get(this.user)
  }

  /** Types a message and presses Enter. */
  async send(text: string): Promise<void> {
    const input = this.page.getByLabel('Message')
    await input.fill(text)
    await input.press('Enter')
    await this.message(text).waitFor()
  }

  message(text: string): Locator {
    return this.page.getByTestId('message').filter({ hasText: text })
  }

  async rows(): Promise<Row[]> {
    return this.page.getByTestId('message').evaluateAll((els) =>
      els.map((el) => ({
        id: (el as HTMLElement).dataset.id ?? '',
        text: el.querySelector('.bubble')?.textContent?.trim() ?? '',
        status: (el as HTMLElement).dataset.status ?? '',
      })),
    )
  }

  /** Waits until the message with `text` shows `status`. */
  async until(text: string, status: string, timeoutMs = 20_000): Promise<void> {
    await waitFor(
      async () => (await this.message(text).getAttribute('data-status')) === status,
      `“${text}” to show ${status} on the ${this.framework} page`,
      { timeoutMs },
    )
  }

  /** Flips a switch of the fault panel by clicking it, then waits for the server to have it. */
  async fault(patch: Partial<Faults>): Promise<void> {
    const panel = this.page.getByTestId('faults')
    if (patch.offline !== undefined) await panel.getByRole('checkbox', { name: /Go offline/ }).setChecked(patch.offline)
    if (patch.blackhole !== undefined)
      await panel.getByRole('checkbox', { name: /Blackhole/ }).setChecked(patch.blackhole)
    if (patch.tokenExpired !== undefined)
      await panel.getByRole('checkbox', { name: /Token expired/ }).setChecked(patch.tokenExpired)
    if (patch.dropAcks !== undefined) {
      const label = { off: 'keep', alternate: 'drop every other', all: 'drop all' }[patch.dropAcks]
      await panel.getByRole('radio', { name: label, exact: true }).check()
    }
    if (patch.status !== undefined) {
      const label = { 0: 'normal', 403: '403', 429: '429 + Retry-After', 500: '500', 503: '503 + Retry-After' }
      await panel.getByRole('radio', { name: label[patch.status], exact: true }).check()
    }
    await waitFor(
      () => Object.entries(patch).every(([key, value]) => this.world.faults[key as keyof Faults] === value),
      `the server to have the faults ${JSON.stringify(patch)}`,
    )
    if (patch.offline !== undefined) {
      const shown = patch.offline ? 'offline' : 'online'
      await waitFor(async () => (await this.page.getByTestId('online').textContent()) === shown, `the page ${shown}`)
    }
  }

  /** How many items the page's outbox has stored in IndexedDB (database `outbox:<persistenceKey>`). */
  storedCount(): Promise<number> {
    return this.page.evaluate(
      (name) =>
        new Promise<number>((resolve, reject) => {
          const open = indexedDB.open(name)
          open.onerror = () => reject(open.error)
          open.onsuccess = () => {
            const db = open.result
            if (!db.objectStoreNames.contains('items')) return resolve(0)
            const count = db.transaction('items').objectStore('items').count()
            count.onsuccess = () => {
              resolve(count.result)
              db.close()
            }
            count.onerror = () => reject(count.error)
          }
        }),
      `outbox:playground:${this.user}`,
    )
  }

  /** Saves `screenshots/<framework>.png` (written aside first, so a failed run leaves the old one). */
  async screenshot(): Promise<string> {
    const path = fileURLToPath(new URL(`../screenshots/${this.framework}.png`, import.meta.url))
    const temporary = path.replace(/\.png$/, '.tmp.png')
    await this.page.screenshot({ path: temporary })
    await rename(temporary, path)
    return path
  }

  async close(): Promise<void> {
    await this.page.context().close()
  }
}
