import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  resolve: {
    conditions: ['source'],
    // The package importing itself (as the README's examples do) gets its sources, built or not.
    alias: [
      { find: /^@outbox\/core\/testing$/, replacement: source('./src/testing.ts') },
      { find: /^@outbox\/core\/extension$/, replacement: source('./src/extension.ts') },
      { find: /^@outbox\/core$/, replacement: source('./src/index.ts') },
    ],
  },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'] },
    environment: 'node',
    // Property tests run hundreds of cases: on a loaded CI machine 5 s is not always enough.
    testTimeout: 20_000,
  },
})
