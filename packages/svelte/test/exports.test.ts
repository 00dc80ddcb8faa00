import * as core from '@outbox/core'
import { expect, it } from 'vitest'
import * as bindings from '../src/index.ts'

it('re-exports every runtime export of the core, unchanged', () => {
  for (const [name, value] of Object.entries(core)) expect(bindings, name).toHaveProperty(name, value)
})

it('adds only the Svelte helpers', () => {
  const added = Object.keys(bindings).filter((name) => !(name in core))
  expect(added.sort()).toEqual(['deliveryStatus', 'fromSignal', 'getOutbox', 'laneItems', 'setOutbox'])
})
