/**
 * Calls `onHide` once when the page is hidden or unloaded (`visibilitychange` to hidden, then
 * usually `pagehide`): the last moment a tab can hand its pending items to `keepalive` requests.
 * It fires again only after the page was shown. `onRestore` runs when the page comes back from
 * the back/forward cache. Returns the detach.
 */
export function onPageHide(onHide: () => void, onRestore: () => void = () => {}): () => void {
  if (typeof window === 'undefined' || typeof document === 'undefined' || typeof window.addEventListener !== 'function')
    return () => {}
  let hidden = false
  const hide = () => {
    if (hidden) return
    hidden = true
    onHide()
  }
  const visibility = () => {
    if (document.visibilityState === 'hidden') hide()
    else hidden = false
  }
  const show = (event: PageTransitionEvent) => {
    hidden = false
    if (event.persisted) onRestore()
  }
  window.addEventListener('pagehide', hide)
  window.addEventListener('pageshow', show)
  document.addEventListener('visibilitychange', visibility)
  return () => {
    window.removeEventListener('pagehide', hide)
    window.removeEventListener('pageshow', show)
    document.removeEventListener('visibilitychange', visibility)
  }
}
