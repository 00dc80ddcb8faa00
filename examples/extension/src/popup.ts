/** The popup: each note goes to the service worker, which queues and delivers it. */
import { relayToWorker } from '@outbox/core/extension'

const emit = relayToWorker({ persistenceKey: 'notes' })

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T
const form = byId<HTMLFormElement>('note')
const list = byId<HTMLSelectElement>('list')
const text = byId<HTMLInputElement>('text')
const status = byId<HTMLParagraphElement>('status')
const queued = byId<HTMLOListElement>('queued')

form.addEventListener('submit', async (event) => {
  event.preventDefault()
  status.textContent = ''
  try {
    // The note's list is its lane: notes of one list arrive in the order they were added.
    const envelope = await emit('note:add', { list: list.value, text: text.value }, { lane: list.value })
    const item = document.createElement('li')
    item.dataset.emitId = envelope.emitId
    item.dataset.lane = envelope.lane
    item.textContent = `${envelope.lane}: ${text.value}`
    queued.append(item)
    text.value = ''
  } catch (error) {
    // A RelayError: the worker could not be reached, or refused the note (too large, queue full).
    status.textContent = error instanceof Error ? error.message : String(error)
  }
})
