import { fileURLToPath } from 'node:url'
import { svelte } from '@sveltejs/vite-plugin-svelte'
import vue from '@vitejs/plugin-vue'
import { defaultClientConditions, defineConfig } from 'vite'

const page = (name: string) => fileURLToPath(new URL(name, import.meta.url))

export default defineConfig({
  plugins: [svelte(), vue()],
  // 'source' runs the workspace's @outbox/* packages from their sources: no build step needed.
  resolve: { conditions: ['source', ...defaultClientConditions] },
  build: {
    rollupOptions: { input: { index: page('index.html'), svelte: page('svelte.html'), vue: page('vue.html') } },
  },
})
