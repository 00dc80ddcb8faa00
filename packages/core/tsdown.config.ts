import { defineConfig } from 'tsdown'
import { mangleInternalProps } from './build/mangle.ts'

export default defineConfig({
  entry: ['src/index.ts', 'src/testing.ts', 'src/extension.ts'],
  format: 'esm',
  dts: true,
  platform: 'neutral',
  sourcemap: true,
  clean: true,
  // Internal property names (mangle.json) shipped short; see build/mangle.ts.
  plugins: [mangleInternalProps(new URL('./mangle.json', import.meta.url))],
})
