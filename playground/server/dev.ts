import { type Playground, startPlayground } from './playground.ts'

const host = process.env.HOST ?? '127.0.0.1'
const fixed = process.env.PORT === undefined ? undefined : Number(process.env.PORT)

/** PORT when given; otherwise 5173, or the next free port after it. */
async function start(): Promise<Playground> {
  for (let port = fixed ?? 5173; ; port++) {
    try {
      return await startPlayground({ host, port })
    } catch (error) {
      const taken = (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
      if (!taken || fixed !== undefined || port >= 5173 + 20) throw error
    }
  }
}

const playground = await start()
console.log(
  `\nPlayground: ${playground.url}\n  Svelte: ${playground.url}svelte.html\n  Vue:    ${playground.url}vue.html\n`,
)

const stop = () => void playground.close().then(() => process.exit(0))
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
