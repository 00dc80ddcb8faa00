/**
 * Calls `onHide` when the page is hidden or unloaded (`visibilitychange` to hidden, `pagehide`):
 * the last moment a tab can hand its pending items to a `keepalive` request. Returns the detach.
 */
export function onPageHide(onHide: () => void): () => void {
  if (typeof window === 'undefined' || typeof document === 'undefined' || typeof window.addEventListener !== 'function')
    return () => {}
  const visibility = () => {
    if (document.visibilityState === 'hidden') onHide()
  }
  window.addEventListener('pagehide', onHide)
  document.addEventListener('visibilitychange', visibility)
  return () => {
    window.removeEventListener('pagehide', onHide)
    document.removeEventListener('visibilitychange', visibility)
  }
}
