import { fileURLToPath } from 'node:url'
import { svelte } from '@sveltejs/vite-plugin-svelte'
import vue from '@vitejs/plugin-vue'
import { defaultClientConditions, defineConfig } from 'vite'

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  plugins: [svelte({ configFile: false }), vue()],
  resolve: {
    // 'source' runs the workspace's @outbox/* packages from their sources: no build step needed.
    conditions: ['source', ...defaultClientConditions],
    alias: {
      // @outbox/svelte's exports map lists "svelte" (dist) before "source", and vite-plugin-svelte
      // adds the "svelte" condition, so on a fresh clone (no dist yet) it would not resolve.
      '@outbox/svelte': here('../packages/svelte/src/index.ts'),
    },
  },
  build: {
    rollupOptions: { input: { index: here('index.html'), svelte: here('svelte.html'), vue: here('vue.html') } },
  },
})
