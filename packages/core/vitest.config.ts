import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: { conditions: ['source'] },
  test: {
    include: ['test/**/*.test.ts'],
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'] },
    environment: 'node',
    // Property tests run hundreds of cases: on a loaded CI machine 5 s is not always enough.
    testTimeout: 20_000,
  },
})
