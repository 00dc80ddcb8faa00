import '../styles.css'
import { outboxPlugin } from '@outbox/vue'
import { createApp } from 'vue'
import { boot } from '../boot.ts'
import App from './App.vue'

const pg = boot('vue')
let first: Parameters<typeof outboxPlugin>[0] | undefined
pg.client.outbox.subscribe((outbox) => (first ??= outbox))
// The plugin provides the first outbox app-wide; App re-provides the current one after "outbox on".
createApp(App, { pg })
  .use(outboxPlugin(first as NonNullable<typeof first>))
  .mount('#app')
