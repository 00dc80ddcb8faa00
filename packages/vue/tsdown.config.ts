import { defineConfig } from 'tsdown'

export default defineConfig({
  entry: ['src/index.ts'],
  format: 'esm',
  // Declaration maps point editors' go-to-definition at src/, which the package ships.
  dts: { sourcemap: true },
  platform: 'neutral',
  sourcemap: true,
  clean: true,
  deps: { neverBundle: ['vue', '@outbox/core'] },
})
