import { fileURLToPath } from 'node:url'
import { defineConfig, type Plugin } from 'vitest/config'

/**
 * The public-API tests against the built package (`dist`, as published, with its internal
 * property names shortened: see build/mangle.ts). Each test's imports of a public module of
 * `src` are sent to the entry that exports it; tests of internal modules stay on `src`.
 * Run after `pnpm --filter @outbox/core build`.
 */
const dist = (file: string) => fileURLToPath(new URL(`./dist/${file}`, import.meta.url))
const ENTRY_OF: Record<string, string> = {
  'outbox.ts': 'index.js',
  'index.ts': 'index.js',
  'errors.ts': 'index.js',
  'http-transport.ts': 'index.js',
  'idb-storage.ts': 'index.js',
  'storage.ts': 'index.js',
  'network.ts': 'index.js',
  'host.ts': 'index.js',
  'drain-outbox.ts': 'index.js',
  'socket-transport.ts': 'index.js',
  'socket-network.ts': 'index.js',
  'testing.ts': 'testing.js',
  'relay.ts': 'extension.js',
  'extension-host.ts': 'extension.js',
}

const toDist: Plugin = {
  name: 'outbox:public-modules-from-dist',
  enforce: 'pre',
  resolveId(id, importer) {
    if (!importer?.includes('/packages/core/test/')) return null
    const src = /^\.\.\/src\/([\w-]+\.ts)$/.exec(id)?.[1]
    if (src && ENTRY_OF[src]) return dist(ENTRY_OF[src])
    if (id === '@outbox/core') return dist('index.js')
    if (id === '@outbox/core/testing') return dist('testing.js')
    return null
  },
}

export default defineConfig({
  plugins: [toDist],
  test: {
    include: [
      'test/auth.test.ts',
      'test/coalesce.test.ts',
      'test/delivery.integration.test.ts',
      'test/drain-outbox.test.ts',
      'test/emit.test.ts',
      'test/express-idempotency.integration.test.ts',
      'test/extension-host.test.ts',
      'test/lanes.test.ts',
      'test/outbox.test.ts',
      'test/page-hide.test.ts',
      'test/property.test.ts',
      'test/relay.test.ts',
      'test/rest-transport.test.ts',
      'test/retry-after.test.ts',
      'test/socket.integration.test.ts',
      'test/testing-kit.test.ts',
      'test/workers.test.ts',
      'test/alone.test.ts',
      'test/background-sync.test.ts',
      'test/deferred-send.test.ts',
      'test/persistence.test.ts',
    ],
    environment: 'node',
    testTimeout: 20_000,
  },
})
