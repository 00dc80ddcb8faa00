// unsent.svelte.ts
import { fromSignal, type Outbox } from '../../src/index.ts'

export class UnsentBadge {
  #size
  constructor(outbox: Outbox) {
    this.#size = fromSignal(outbox.size)
  }
  // Reading `label` in a template or $effect re-runs it when the queue changes.
  get label() {
    return this.#size.current === 0 ? '' : `${this.#size.current} unsent`
  }
}
