import { expectTypeOf, it } from 'vitest'
import {
  acceptRelayed,
  type ChromeAlarms,
  extensionHost,
  type RelayEmit,
  type RelayError,
  relayToWorker,
} from '../src/extension.ts'
import type { Host } from '../src/host.ts'
import type { EmitEnvelope, OutboxOptions } from '../src/types.ts'

it('types the extension entry', () => {
  expectTypeOf(extensionHost).returns.toEqualTypeOf<Host>()
  // The outbox's own options object fits: the same persistenceKey names the alarm.
  const options = { persistenceKey: 'notes' } satisfies Partial<OutboxOptions>
  expectTypeOf(extensionHost).toBeCallableWith(options)
  expectTypeOf(relayToWorker).returns.toEqualTypeOf<RelayEmit>()
  expectTypeOf<ReturnType<RelayEmit>>().toEqualTypeOf<Promise<EmitEnvelope>>()
  expectTypeOf(acceptRelayed).returns.toEqualTypeOf<() => void>()
  expectTypeOf<RelayError['reason']>().toEqualTypeOf<string>()
  // Only the options a relay may carry.
  expectTypeOf<Parameters<RelayEmit>[2]>().not.toHaveProperty('clock')
  // chrome.alarms is typed structurally: a minimal object with the three members fits.
  expectTypeOf({
    create: (_name: string, _info: { when: number }) => Promise.resolve(),
    clear: (_name: string) => Promise.resolve(true),
    onAlarm: { addListener: (_l: (alarm: { name: string }) => void) => {} },
  }).toExtend<ChromeAlarms>()
})
