#!/usr/bin/env node
import { existsSync, readdirSync, statSync } from 'node:fs';

const bundle = new URL('../dist/bundle/index.js', import.meta.url);
const checkout = existsSync(new URL('../src/cli/index.ts', import.meta.url));
// A checkout (src/ beside bin/) builds nothing on `npm install`: the bundle is built on first use
// instead, offline with esbuild in a second or two. The package ships it, built on prepack.
if (!existsSync(bundle) && checkout) {
  const { execFileSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  process.stderr.write('pinsync: building dist/bundle from src/ (first run in this checkout)\n');
  try {
    // The build's output goes to stderr: stdout is the command's (preview prints events there).
    execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/bundle.mjs', import.meta.url)), '--if-missing'], { stdio: ['ignore', 2, 2] });
  } catch {
    process.stderr.write('pinsync: could not build the bundle; run `npm ci` (it installs esbuild), then `npm run build`\n');
    process.exit(1);
  }
} else if (!existsSync(bundle)) {
  process.stderr.write('pinsync: this copy has no dist/bundle; install pinsync from a tarball made by `npm pack`, or run it from a clone\n');
  process.exit(1);
} else if (checkout && newestSource() > statSync(bundle).mtimeMs) {
  // Not rebuilt here: another pinsync may be running from this bundle and still load its chunks.
  process.stderr.write('pinsync: warning: dist/bundle is older than src/ (after a git pull?); run `npm run build`\n');
}
await import(bundle.href);

/** When a file under src/ last changed, in ms. */
function newestSource() {
  const src = new URL('../src/', import.meta.url);
  let newest = 0;
  for (const file of readdirSync(src, { recursive: true })) newest = Math.max(newest, statSync(new URL(file, src)).mtimeMs);
  return newest;
}
