#!/usr/bin/env node
// Measures the cost of mapping + normalizing + hashing one row, on the shipped sample
// orders (messy identifiers, 14 match keys, contents from JSON). Source reading is not timed.
// Usage: npm run bench [-- --rows N]. The last line is JSON, for comparing runs.
import { performance } from 'node:perf_hooks';
import { loadSyncFile } from '../dist/config/load.js';
import { compileMapper } from '../dist/mapping/compile.js';
import { createSource } from '../dist/sources/index.js';

const args = process.argv.slice(2);
const rowsArg = args.indexOf('--rows');
const target = rowsArg >= 0 ? Number(args[rowsArg + 1]) : 200_000;

const loaded = await loadSyncFile(new URL('../syncs/example.yaml', import.meta.url).pathname, { requireDestination: false });
if (!loaded.sync) throw new Error('example sync is invalid');
// Every row becomes an event or a rejection; the event window is opened so rows are fully mapped.
const sync = { ...loaded.sync, options: { ...loaded.sync.options, max_event_age: '10000d' } };
const source = createSource(sync);
const { mapper } = compileMapper(sync, { available: await source.columns() });
const sample = [];
for await (const page of source.read({ columns: mapper.columns })) sample.push(...page);
await source.close();

function pass(count) {
  let events = 0;
  const start = performance.now();
  for (let i = 0; i < count; i++) if (mapper.map(sample[i % sample.length]).event) events++;
  return { ms: performance.now() - start, events };
}

pass(Math.min(target, 20_000)); // warm-up: let V8 optimize the hot path
const runs = [pass(target), pass(target), pass(target)];
const best = runs.reduce((a, b) => (a.ms < b.ms ? a : b));
const usPerRow = (best.ms * 1000) / target;
const hashesPerRow = (() => {
  let n = 0;
  for (const row of sample) {
    const outcome = mapper.map(row);
    if (outcome.event) for (const v of Object.values(outcome.event.user_data)) if (Array.isArray(v)) n += v.length;
  }
  return n / sample.length;
})();

console.log(`mapping benchmark: ${target} rows (sample of ${sample.length}), best of ${runs.length}`);
console.log(`  per row        ${usPerRow.toFixed(2)} µs`);
console.log(`  rows/s         ${Math.round(target / (best.ms / 1000)).toLocaleString('en-US')}`);
console.log(`  hashes per row ${hashesPerRow.toFixed(1)}`);
console.log(JSON.stringify({
  bench: 'mapping', rows: target, us_per_row: Number(usPerRow.toFixed(3)),
  rows_per_s: Math.round(target / (best.ms / 1000)), hashes_per_row: Number(hashesPerRow.toFixed(2)), node: process.version,
}));
