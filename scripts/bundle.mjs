#!/usr/bin/env node
// Bundles the CLI and its reading thread for start-up (docs/adr/0004-cli-bundle.md), with shared
// chunks, all in dist/bundle (the CLI finds the reading thread's file beside its own). Packages
// with native parts, or loaded only when needed (drivers, pino, libphonenumber), stay in
// node_modules; knex and undici get chunks of their own, loaded when a state is opened and with
// the first batch.
// No source maps: the bundle is not minified, so a stack keeps function names, and esbuild's
// `// src/...` comments above each module tell which file a line of a chunk comes from.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const BUNDLED = new Set(['commander', 'croner', 'yaml', 'zod', 'knex', 'undici']);
const KNEX_UNUSED_DRIVERS = ['tedious', 'mysql', 'mysql2', 'oracledb', 'sqlite3', 'mariadb', 'mariadb/callback', 'pg-query-stream', 'pg-native'];
const root = fileURLToPath(new URL('..', import.meta.url));
const { dependencies } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const target = path.join(root, 'dist/bundle');
// Built beside and swapped in whole: chunk names change with their content (an earlier build's
// would stay), and bin/pinsync.js may build it while another pinsync starts from the same checkout.
mkdirSync(path.join(root, 'dist'), { recursive: true });
const outdir = mkdtempSync(path.join(root, 'dist/.bundle-'));
process.on('exit', () => rmSync(outdir, { recursive: true, force: true }));

const { metafile } = await build({
  absWorkingDir: root,
  entryPoints: { index: 'src/cli/index.ts', 'reader-worker': 'src/engine/reader-worker.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // knex's drivers for databases pinsync does not use: required only by those dialects.
  external: [...Object.keys(dependencies).filter((name) => !BUNDLED.has(name)), ...KNEX_UNUSED_DRIVERS],
  // Bundled CommonJS (commander) calls require, which an ES module does not have.
  banner: { js: "import { createRequire as __pinsyncRequire } from 'node:module'; const require = __pinsyncRequire(import.meta.url);" },
  metafile: true,
  logLevel: 'warning',
});

// The bundled packages' code ships in these files: their licenses ship beside it.
const packages = new Set(Object.keys(metafile.inputs).map((input) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1]).filter(Boolean));
const notices = [...packages].sort().map((name) => {
  const dir = path.join(root, 'node_modules', name);
  const { version, license } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const file = ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'license', 'license.md'].map((f) => path.join(dir, f)).find(existsSync);
  if (!file) throw new Error(`${name} has no license file to ship with the bundle`);
  return `${name} ${version} (${license})\n\n${readFileSync(file, 'utf8').trim()}\n`;
});
writeFileSync(path.join(outdir, 'THIRD_PARTY_LICENSES.txt'), `Code from these packages is bundled in this folder.\n\n${notices.join('\n---\n\n')}`);

// --if-missing (bin/pinsync.js, first use in a checkout): a bundle another pinsync built
// meanwhile stays, as a run may be loading its chunks.
if (!(process.argv.includes('--if-missing') && existsSync(path.join(target, 'index.js')))) {
  rmSync(target, { recursive: true, force: true });
  renameSync(outdir, target);
}
