#!/usr/bin/env node
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/bundle/index.js', import.meta.url);
// A checkout (src/ beside bin/) builds nothing on `npm install`: the bundle is built on first use
// instead, offline with esbuild in a second or two. The package ships it, built on prepack.
if (!existsSync(bundle) && existsSync(new URL('../src/cli/index.ts', import.meta.url))) {
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
}
await import(bundle.href);
