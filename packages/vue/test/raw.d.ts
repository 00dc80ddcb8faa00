// Vite's `?raw` imports, for the test that keeps the README's example in sync with a tested copy.
declare module '*?raw' {
  const text: string
  export default text
}
