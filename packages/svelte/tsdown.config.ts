import { defineConfig } from 'tsdown'

export default defineConfig({
  entry: ['src/index.ts'],
  format: 'esm',
  dts: true,
  platform: 'neutral',
  sourcemap: true,
  clean: true,
  // The app's own copies: one Svelte runtime, one outbox engine.
  deps: { neverBundle: ['svelte', /^svelte\//, '@outbox/core'] },
})
