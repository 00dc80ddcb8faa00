import { startPlayground } from './playground.ts'

const port = process.env.PORT === undefined ? 5173 : Number(process.env.PORT)
const playground = await startPlayground({ host: process.env.HOST ?? '127.0.0.1', port })
console.log(
  `\nPlayground: ${playground.url}\n  Svelte: ${playground.url}svelte.html\n  Vue:    ${playground.url}vue.html\n`,
)

const stop = () => void playground.close().then(() => process.exit(0))
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
