import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const here = fileURLToPath(new URL('..', import.meta.url))

export type Bundle = { code: string; moduleAt: (line: number) => string }

/** Short names for the modules of the bundle, for CPU profile attribution. */
export function moduleName(path: string): string {
  const core = /packages\/core\/(?:src\/([\w-]+)\.ts|dist\/)/.exec(path)
  if (core) return core[1] ? `core/${core[1]}` : 'core'
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules)/.exec(path)
  if (pkg) {
    const name = pkg[1] as string
    if (name.startsWith('@tanstack/')) return 'tanstack'
    if (name.startsWith('workbox-')) return 'workbox'
    if (name === '@preact/signals-core') return 'signals'
    return name
  }
  if (/\bbench\/|^(browser|lib)\//.test(path)) return 'bench harness'
  return path
}

/** Bundles the browser suite (and the libraries it drives) into one script for the bench page. */
export async function bundleBrowserSuite(): Promise<Bundle> {
  const result = await build({
    entryPoints: [`${here}browser/suite.ts`],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    write: false,
    minify: false, // readable function names in CPU profiles
    sourcemap: false,
    define: { 'process.env.NODE_ENV': '"production"' },
    // BENCH_SOURCE=1 bundles @outbox/core from its TypeScript source instead of dist (development).
    conditions: process.env.BENCH_SOURCE ? ['source'] : [],
    logLevel: 'warning',
  })
  const code = (result.outputFiles[0] as { text: string }).text
  // esbuild marks where each module starts with a `// path` comment (unminified output).
  const starts: Array<{ line: number; name: string }> = []
  code.split('\n').forEach((text, i) => {
    const m = /^ {2}\/\/ ((?:\.\.\/|node_modules\/|browser\/|lib\/)\S+)$/.exec(text)
    if (m) starts.push({ line: i, name: moduleName(m[1] as string) })
  })
  const moduleAt = (line: number) => {
    let name = 'bench harness'
    for (const s of starts) {
      if (s.line > line) break
      name = s.name
    }
    return name
  }
  return { code, moduleAt }
}
