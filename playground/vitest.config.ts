import { defineConfig } from 'vitest/config'

/**
 * Node-environment tests: the server's world and the chat client against a real server, and the
 * end-to-end tests that drive both pages in Chromium (playwright-core) against the dev server.
 */
export default defineConfig({
  // 'source' runs the workspace's @outbox/* packages from their sources: no build step needed.
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
})
