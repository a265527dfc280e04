// undici, the HTTP client, loaded when first needed: the Pinterest client's first batch, or a
// webhook notice. Bundled (scripts/bundle.mjs), it is CommonJS inside an ES module chunk, and
// its exports come as the module's default; from node_modules (tests, dist/), as named exports.
export type Undici = typeof import('undici');

let loading: Promise<Undici> | undefined;

export function loadUndici(): Promise<Undici> {
  return (loading ??= import('undici').then((module) => (typeof module.Agent === 'function' ? module : (module as unknown as { default: Undici }).default)));
}
