/**
 * Shortens the internal property names of `mangle.json` in the built JavaScript, as Preact does
 * with its own `mangle.json`. The parts of the engine talk through named interfaces
 * (`settlement.requeueInFlight`, `persistence.watermark`, ...), and a minifier keeps property names:
 * without this, each of them ships in full in every user's bundle.
 *
 * `mangle.json` is written by `build/mangle-update.ts` (`pnpm --filter @outbox/core mangle`) from
 * what the type checker says is internal (`build/internal-props.ts`); `test/mangle.test.ts` fails
 * when the file and the sources disagree. Every chunk gets the same short names (one fixed map),
 * and no short name is a property name `src` uses, so none can meet a property it does not stand for.
 */
import { readFileSync } from 'node:fs'
import { transform } from 'esbuild'

export type MangleFile = { props: Record<string, string> }

type RenderChunk = (code: string, chunk: { fileName: string }) => Promise<{ code: string; map: string } | null>

export function readMangleFile(file: URL): MangleFile {
  return JSON.parse(readFileSync(file, 'utf8')) as MangleFile
}

export function mangleInternalProps(file: URL): { name: string; renderChunk: RenderChunk } {
  const { props } = readMangleFile(file)
  const pattern = new RegExp(`^(?:${Object.keys(props).join('|')})$`)
  return {
    name: 'outbox:mangle-internal-props',
    async renderChunk(code, chunk) {
      if (!chunk.fileName.endsWith('.js')) return null
      const result = await transform(code, {
        loader: 'js',
        format: 'esm',
        target: 'esnext',
        mangleProps: pattern,
        mangleCache: { ...props },
        sourcemap: 'external',
        sourcefile: chunk.fileName,
      })
      const added = Object.keys(result.mangleCache ?? {}).filter((name) => !(name in props))
      if (added.length > 0) throw new Error(`mangle: names outside mangle.json were shortened: ${added.join(', ')}`)
      return { code: result.code, map: result.map }
    },
  }
}
