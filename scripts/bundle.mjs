#!/usr/bin/env node
// Bundles the CLI for start-up: `pinsync run` loaded about 150 files before it could start,
// most of them small modules of zod, yaml and commander, and Node's module loader spent about
// 60 ms more on them than on one bundle. Entry points: the CLI and the reading thread, with
// shared chunks, all in dist/bundle (the CLI finds the reading thread's file beside its own).
// Packages with native parts, files required by name at run time (knex's dialects), or that
// load only when needed (drivers, pino, libphonenumber) stay outside, loaded from node_modules.
// The per-module build in dist/ (tsc) stays: tools such as bench:mapping import its modules.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const BUNDLED = new Set(['commander', 'croner', 'yaml', 'zod']);
const root = new URL('..', import.meta.url);
const { dependencies } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));

await build({
  absWorkingDir: new URL('.', root).pathname,
  entryPoints: { index: 'src/cli/index.ts', 'reader-worker': 'src/engine/reader-worker.ts' },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: Object.keys(dependencies).filter((name) => !BUNDLED.has(name)),
  // Bundled CommonJS (commander) calls require, which an ES module does not have.
  banner: { js: "import { createRequire as __pinsyncRequire } from 'node:module'; const require = __pinsyncRequire(import.meta.url);" },
  sourcemap: 'linked',
  logLevel: 'warning',
});
