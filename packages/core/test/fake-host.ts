import type { Host, LifecycleHooks } from '../src/host.ts'
import type { SenderLock } from '../src/sender-lock.ts'
import type { TestClock } from '../src/testing.ts'
import type { Clock, DeferredRequest } from '../src/types.ts'
import { fakeClock, manualNetwork } from './helpers.ts'

/** One deferred request the outbox armed: its parsed body and whether it was aborted since. */
export type Armed = { request: DeferredRequest; signal: AbortSignal }

/**
 * A host with every capability faked: a manual clock and network, page lifecycle driven by the
 * test (`hide()`, `restore()`), a sender lock the test grants, `deferSend` that records (and can
 * refuse over a quota), and `registerSync` that records tags.
 */
export function fakeHost(
  options: { lead?: boolean; quotaBytes?: number; fetchLater?: boolean; sync?: boolean; clock?: Clock } = {},
) {
  // A given clock (the real one, in tests that never advance time) stands in for the manual one.
  const clock = (options.clock ?? fakeClock()) as TestClock
  const network = manualNetwork()
  const armed: Armed[] = []
  const tags: string[] = []
  const locks: Array<{ name: string; onChange: (leading: boolean) => void; closed: boolean; leading: boolean }> = []
  let hooks: LifecycleHooks | undefined
  const live = () => armed.filter((a) => !a.signal.aborted)
  const bytes = (list: Armed[]) => list.reduce((n, a) => n + (a.request.body?.length ?? 0), 0)

  const host: Host = {
    clock,
    network,
    lifecycle(h) {
      hooks = h
      return () => void (hooks = undefined)
    },
    channel: () => undefined,
    senderLock(name, onChange) {
      const entry = { name, onChange, closed: false, leading: false }
      locks.push(entry)
      if (options.lead !== false) queueMicrotask(() => grant(entry))
      const lock: SenderLock = {
        get leading() {
          return entry.leading
        },
        others: async () => locks.filter((l) => l.name === name && !l.closed).length > 1,
        close() {
          entry.closed = true
          entry.leading = false
        },
      }
      return lock
    },
    deferSend(request, signal) {
      if (options.fetchLater === false) return false
      if (options.quotaBytes !== undefined && bytes(live()) + (request.body?.length ?? 0) > options.quotaBytes)
        throw new DOMException('over the fetchLater quota', 'QuotaExceededError')
      armed.push({ request, signal })
      return true
    },
    async registerSync(tag) {
      if (options.sync === false) return false
      tags.push(tag)
      return true
    },
  }
  function grant(entry: (typeof locks)[number]) {
    if (entry.closed || entry.leading) return
    entry.leading = true
    entry.onChange(true)
  }
  return {
    host,
    clock,
    network,
    armed,
    tags,
    locks,
    /** The deferred requests armed now (not aborted). */
    live,
    /** The emitIds in the armed batch requests' bodies, in order. */
    armedIds: () =>
      live().flatMap(
        (a) =>
          (JSON.parse(a.request.body ?? '{}') as { envelopes?: Array<{ emitId: string }> }).envelopes?.map(
            (e) => e.emitId,
          ) ?? [],
      ),
    grant: (i: number) => grant(locks[i] as (typeof locks)[number]),
    hide: () => hooks?.hide(),
    restore: () => hooks?.restore(),
  }
}
