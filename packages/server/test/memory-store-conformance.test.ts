import { afterEach, beforeEach, vi } from 'vitest'
import { memoryStore } from '../src/memory-store.ts'
import { stubStore } from './helpers.ts'
import { LEASE_MS, storeConformance, TTL_MS } from './store-conformance.ts'

// One fake clock drives the store's `now` and applyOnce's renewal timer: nothing sleeps.
beforeEach(() => void vi.useFakeTimers())
afterEach(() => void vi.useRealTimers())

storeConformance('memoryStore', {
  async open(instances = 1) {
    const store = memoryStore({ leaseMs: LEASE_MS, ttlMs: TTL_MS, now: () => Date.now() })
    return Array.from({ length: instances }, () => store)
  },
  advance: async (ms) => void (await vi.advanceTimersByTimeAsync(ms)),
  // A store in this process cannot be cut off; a stand-in that fails the way a dead link does.
  unreachable: async () => ({
    store: stubStore({ begin: () => Promise.reject(new Error('connection refused')) }),
    restore: async () => {},
  }),
})
