import { describe, expectTypeOf, it } from 'vitest'
import { type EmitEnvelope, type HttpAnswer, type HttpRequest, httpTransport } from '../src/index.ts'

describe('httpTransport request/ack types', () => {
  it('types request’s envelope and answer, and ack’s answer and result', () => {
    httpTransport({
      url: '/api/',
      request: (e) => {
        expectTypeOf(e).toEqualTypeOf<EmitEnvelope>()
        return { url: `chats/${e.payload.chatId}/messages`, body: { text: e.payload.text } }
      },
      ack: (answer, e) => {
        expectTypeOf(answer).toEqualTypeOf<HttpAnswer>()
        expectTypeOf(answer.body).toBeUnknown()
        expectTypeOf(e).toEqualTypeOf<EmitEnvelope>()
        return answer.status === 201 ? { created: true } : undefined
      },
    })
    expectTypeOf<HttpRequest['method']>().toEqualTypeOf<string | undefined>()
    // @ts-expect-error ack returns the ack's fields (an object) or undefined
    httpTransport({ url: '/e', ack: () => true })
    // @ts-expect-error request's headers are strings
    httpTransport({ url: '/e', request: () => ({ headers: { n: 1 } }) })
  })
})
