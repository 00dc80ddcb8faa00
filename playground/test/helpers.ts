/**
 * Polls `check` until it returns something truthy (returned) or `timeoutMs` passes. Tests wait on
 * real state this way: no fixed sleep decides an outcome.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  { timeoutMs = 20_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value) return value as NonNullable<T>
      last = value
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? `${last.name}: ${last.message}` : JSON.stringify(last)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail?.slice(0, 1500)})`)
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

export const uniqueUser = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}`
