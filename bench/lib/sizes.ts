import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bench = `${root}bench`
const core = `${root}packages/core`

export type SizeRow = {
  name: string
  group: 'ours' | 'field'
  code: string
  minBytes: number
  gzipBytes: number
  brotliBytes: number
  /** Brotli bytes this entry adds over another row (bindings over core). */
  overBrotli?: number
  over?: string
}

type Entry = { name: string; group: SizeRow['group']; code: string; resolveDir?: string; external?: string[] }

/**
 * Bundle sizes as a user's bundler would produce them: esbuild, ESM, browser, minified, tree
 * shaken, then gzip -9 and brotli -11 of the result. Everything is measured the same way.
 */
type SizeLimitEntry = { name: string; path: string; import?: string; ignore?: string[]; limit?: string }

/**
 * Our entry points are the repository's size-limit checks (`.size-limit.json`: same files, same
 * named imports, same ignored peers), so these numbers track `pnpm size`; then the field.
 */
function ours(): Entry[] {
  let checks: SizeLimitEntry[] = []
  try {
    checks = JSON.parse(readFileSync(`${root}.size-limit.json`, 'utf8')) as SizeLimitEntry[]
  } catch {}
  const list: Entry[] = checks.map((c) => ({
    name: c.name,
    group: 'ours',
    code: `export ${c.import ?? '*'} from '${root}${c.path}'`,
    external: (c.ignore ?? []).flatMap((x) => [x, `${x}/*`]),
  }))
  list.push({ name: '@outbox/core: whole package', group: 'ours', code: `export * from '@outbox/core'` })
  return list
}

export const entries = (): Entry[] => [
  ...ours(),
  { name: 'idb-keyval 6.3.0 (whole package)', group: 'field', code: `export * from 'idb-keyval'` },
  { name: 'ky 1.14.3 (whole package)', group: 'field', code: `export { default } from 'ky'`, resolveDir: core },
  {
    name: '@preact/signals-core 1.14.5 (whole package)',
    group: 'field',
    code: `export * from '@preact/signals-core'`,
    resolveDir: core,
  },
  {
    name: 'workbox-background-sync 7.4.1 (whole package)',
    group: 'field',
    code: `export * from 'workbox-background-sync'`,
  },
  {
    name: '@tanstack/offline-transactions 1.0.53 + @tanstack/db 0.8.7 (whole packages)',
    group: 'field',
    code: `export * from '@tanstack/offline-transactions'\nexport * from '@tanstack/db'`,
  },
  {
    name: '@tanstack/offline-transactions alone (@tanstack/db external)',
    group: 'field',
    code: `export * from '@tanstack/offline-transactions'`,
    external: ['@tanstack/db'],
  },
  {
    name: '@tanstack/offline-transactions + db: startOfflineExecutor + createCollection',
    group: 'field',
    code: `export { startOfflineExecutor } from '@tanstack/offline-transactions'\nexport { createCollection, localOnlyCollectionOptions } from '@tanstack/db'`,
  },
]

export async function measureSizes(): Promise<SizeRow[]> {
  const rows: SizeRow[] = []
  for (const e of entries()) {
    const result = await build({
      stdin: { contents: e.code, resolveDir: e.resolveDir ?? bench, loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      treeShaking: true,
      write: false,
      external: e.external ?? [],
      define: { 'process.env.NODE_ENV': '"production"' },
      logLevel: 'error',
    })
    const bytes = (result.outputFiles[0] as { contents: Uint8Array }).contents
    rows.push({
      name: e.name,
      group: e.group,
      code: e.code.replaceAll(root, ''),
      minBytes: bytes.length,
      gzipBytes: gzipSync(bytes, { level: 9 }).length,
      brotliBytes: brotliCompressSync(bytes, {
        params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
      }).length,
    })
  }
  // Bindings over core: what each adds to createOutbox + httpTransport.
  const base = rows.find((r) => r.group === 'ours' && /createOutbox \+ httpTransport/.test(r.name))
  if (base)
    for (const r of rows)
      if (r.group === 'ours' && /^@outbox\/(svelte|vue)/.test(r.name)) {
        r.overBrotli = r.brotliBytes - base.brotliBytes
        r.over = base.name
      }
  return rows
}
