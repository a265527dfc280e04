#!/usr/bin/env node
// Regenerates the key tables of docs/reference.md, docs/sources.md and the source pages from the sync file's
// schema (see scripts/reference-tables.ts). Usage: npm run docs:reference [-- --check]
// With --check it writes nothing and exits 1 when a page is not in step with the schema.
// The TypeScript sources are compiled on the fly with esbuild, so no build is needed.
import { build } from 'esbuild';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const PAGES = ['docs/reference.md', 'docs/sources.md', 'docs/snowflake.md', 'docs/redshift.md'];
const check = process.argv.includes('--check');

const bundled = await build({
  stdin: {
    contents: "export { syncJsonSchema } from './src/config/schema.ts';\nexport { renderKeyTables } from './scripts/reference-tables.ts';\n",
    resolveDir: root,
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  format: 'esm',
  write: false,
  logLevel: 'error',
  // Bundled CommonJS packages call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
});
const dir = mkdtempSync(path.join(tmpdir(), 'pinsync-reference-'));
let generator;
try {
  const file = path.join(dir, 'reference.mjs');
  writeFileSync(file, bundled.outputFiles[0].text);
  generator = await import(pathToFileURL(file).href);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const schema = generator.syncJsonSchema();
let stale = 0;
for (const page of PAGES) {
  const file = path.join(root, page);
  const text = readFileSync(file, 'utf8');
  const rendered = generator.renderKeyTables(text, schema);
  if (rendered === text) continue;
  stale++;
  if (check) console.error(`${page} is not in step with src/config/schema.ts: run npm run docs:reference`);
  else {
    writeFileSync(file, rendered);
    console.log(`${page}: key tables regenerated`);
  }
}
process.exit(check && stale > 0 ? 1 : 0);
