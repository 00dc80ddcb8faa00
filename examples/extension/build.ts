/**
 * Builds the example extension into a folder Chrome loads unpacked (chrome://extensions →
 * Developer mode → Load unpacked):
 *
 *   pnpm exec tsx examples/extension/build.ts [outDir] [--endpoint http://127.0.0.1:8787/events]
 *
 * `@outbox/core` is bundled from its sources, so no build of the package is needed first; esbuild
 * comes from `@outbox/core`'s dev dependencies.
 */
import { copyFile, mkdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export type ExtensionBuildOptions = {
  /** Where the worker sends events. Default `http://127.0.0.1:8787/events`. */
  endpoint?: string
  /** For tests: a 3 s first backoff that already rides an alarm, and alarms without Chrome's 30 s minimum (unpacked only). */
  shortWaits?: boolean
  /** `@outbox/core` from its sources (default; no build needed) or from its built `dist`. */
  core?: 'src' | 'dist'
}

/** The part of esbuild's API used here (esbuild is resolved from @outbox/core, not from this folder). */
type Esbuild = {
  build(options: Record<string, unknown>): Promise<{ errors: unknown[]; warnings: unknown[] }>
}

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))
const core = (path: string) => fileURLToPath(new URL(`../../packages/core/${path}`, import.meta.url))

const loadEsbuild = async (): Promise<Esbuild> => {
  const require = createRequire(core('package.json'))
  return (await import(pathToFileURL(require.resolve('esbuild')).href)) as Esbuild
}

/** `@outbox/core` and `@outbox/core/extension` from source or dist (this folder is not a workspace package). */
const outboxFrom = (from: 'src' | 'dist') => ({
  name: 'outbox-from-workspace',
  setup(build: { onResolve(o: { filter: RegExp }, f: (a: { path: string }) => { path: string }): void }) {
    build.onResolve({ filter: /^@outbox\/core(\/extension)?$/ }, ({ path }) => {
      const entry = path.endsWith('/extension') ? 'extension' : 'index'
      return { path: core(from === 'dist' ? `dist/${entry}.js` : `src/${entry}.ts`) }
    })
  },
})

/** Builds the extension into `outDir` (created if missing) and returns `outDir`. */
export async function buildExtension(outDir: string, options: ExtensionBuildOptions = {}): Promise<string> {
  const esbuild = await loadEsbuild()
  await mkdir(outDir, { recursive: true })
  const common = {
    bundle: true,
    platform: 'browser',
    target: 'chrome120',
    outdir: outDir,
    logLevel: 'warning',
    plugins: [outboxFrom(options.core ?? 'src')],
    define: {
      OUTBOX_ENDPOINT: JSON.stringify(options.endpoint ?? 'http://127.0.0.1:8787/events'),
      OUTBOX_SHORT_WAITS: String(options.shortWaits === true),
    },
  }
  // The worker and the popup are modules; a content script is a classic script.
  await esbuild.build({ ...common, format: 'esm', entryPoints: [here('src/worker.ts'), here('src/popup.ts')] })
  await esbuild.build({ ...common, format: 'iife', entryPoints: [here('src/content.ts')] })
  for (const file of ['manifest.json', 'popup.html']) await copyFile(here(file), join(outDir, file))
  return outDir
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2)
  const at = args.indexOf('--endpoint')
  const endpoint = at >= 0 ? args.splice(at, 2)[1] : undefined
  const outDir = await buildExtension(args[0] ?? here('dist'), endpoint ? { endpoint } : {})
  console.log(`Built the example extension into ${outDir}: load it unpacked from chrome://extensions.`)
}
