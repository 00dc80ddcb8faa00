import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  plugins: [vue()],
  resolve: { conditions: ['source'] },
  test: {
    include: ['test/**/*.test.ts'],
    typecheck: { enabled: true, checker: 'vue-tsc', include: ['test/**/*.test-d.ts'] },
    environment: 'happy-dom',
  },
})
