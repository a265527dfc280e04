// pg and pg-cursor, loaded without pg's check for Cloudflare Workers. When `navigator` is not
// defined (Node 20), pg checks by building a fetch Response, which makes Node load its whole
// fetch implementation: about 13 ms on each thread that loads pg, before a run can start.
// Node 21 and later define navigator, which answers the check at once; on Node 20 a stand-in
// does, only while these modules load (synchronously: only hooks that run inside require,
// such as instrumentation, could see it).
import { createRequire } from 'node:module';
import { installDataRowDecoder } from './data-rows.js';

const require = createRequire(import.meta.url);

export function loadWithNavigator<T>(load: () => T): T {
  if ('navigator' in globalThis) return load();
  Object.defineProperty(globalThis, 'navigator', { value: { userAgent: `Node.js/${process.versions.node.split('.')[0]}` }, configurable: true });
  try {
    return load();
  } finally {
    delete (globalThis as { navigator?: unknown }).navigator;
  }
}

export const { pg, Cursor } = loadWithNavigator(() => ({
  pg: require('pg') as typeof import('pg').default,
  Cursor: require('pg-cursor') as typeof import('pg-cursor'),
}));

/** Whether pg's row messages go through pinsync's decoder (see data-rows.ts). */
export const dataRowDecoderInstalled = installDataRowDecoder();
