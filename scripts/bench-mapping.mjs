#!/usr/bin/env node
// Measures the cost of mapping + normalizing + hashing one row and writing its JSON text, on the shipped sample
// orders (messy identifiers, 14 match keys, contents from JSON). Source reading is not timed.
// Usage: npm run bench:mapping [-- --rows N]. The last line is JSON, for comparing runs.
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// The modules it times, bundled on each start (dist/bench-mapping, not shipped); packages stay in node_modules.
const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = `${root}dist/bench-mapping/modules.js`;
await build({
  absWorkingDir: root,
  stdin: {
    contents: ["export { loadSyncFile } from './src/config/load.ts';", "export { compileMapper } from './src/mapping/compile.ts';", "export { createSource } from './src/sources/index.ts';", "export { applyPatches } from './src/patches/index.ts';"].join('\n'),
    resolveDir: root,
    loader: 'ts',
  },
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
const { loadSyncFile, compileMapper, createSource, applyPatches } = await import(outfile);

// As the reading thread does, so that what is measured is what a run maps with.
applyPatches();
const args = process.argv.slice(2);
const rowsArg = args.indexOf('--rows');
const target = rowsArg >= 0 ? Number(args[rowsArg + 1]) : 200_000;

const loaded = await loadSyncFile(new URL('../syncs/example.yaml', import.meta.url).pathname, { requireDestination: false });
if (!loaded.sync) throw new Error('example sync is invalid');
// Two profiles: the example as shipped (14 match keys), and a typical web sync
// (em, ph, ip, user agent). The event window is opened so every row is fully mapped.
const profiles = {
  example: { ...loaded.sync, options: { ...loaded.sync.options, max_event_age: '10000d' } },
  typical: {
    ...loaded.sync,
    match: { em: 'email', ph: 'phone', client_ip_address: 'ip_address', client_user_agent: 'user_agent' },
    options: { ...loaded.sync.options, max_event_age: '10000d' },
  },
};

async function measure(sync) {
  const source = await createSource(sync);
  const { mapper } = compileMapper(sync, { available: await source.columns() });
  const sample = [];
  for await (const page of source.read({ columns: mapper.columns })) sample.push(...page);
  await source.close();
  const pass = (count) => {
    const start = performance.now();
    for (let i = 0; i < count; i++) mapper.encode(sample[i % sample.length]);
    return performance.now() - start;
  };
  pass(Math.min(target, 20_000)); // warm-up: let V8 optimize the hot path
  const best = Math.min(pass(target), pass(target), pass(target));
  let hashes = 0;
  for (const row of sample) {
    const outcome = mapper.map(row);
    if (outcome.event) for (const v of Object.values(outcome.event.user_data)) if (Array.isArray(v)) hashes += v.length;
  }
  return { usPerRow: (best * 1000) / target, rowsPerSecond: Math.round(target / (best / 1000)), hashesPerRow: hashes / sample.length };
}

const example = await measure(profiles.example);
const typical = await measure(profiles.typical);
console.log(`mapping + normalization + hashing + JSON text, ${target} rows per pass, best of 3 passes`);
console.log('profile    µs/row   rows/s     hashes/row');
for (const [name, r] of [['example', example], ['typical', typical]]) {
  console.log(`${name.padEnd(10)} ${r.usPerRow.toFixed(2).padStart(6)}   ${String(r.rowsPerSecond).padStart(8)}   ${r.hashesPerRow.toFixed(1)}`);
}
console.log(JSON.stringify({
  bench: 'mapping', rows: target,
  us_per_row: Number(example.usPerRow.toFixed(3)), rows_per_s: example.rowsPerSecond, hashes_per_row: Number(example.hashesPerRow.toFixed(2)),
  typical_us_per_row: Number(typical.usPerRow.toFixed(3)), typical_rows_per_s: typical.rowsPerSecond,
  node: process.version,
}));
