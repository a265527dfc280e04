#!/usr/bin/env node
// The Snowflake stand-in of the tests (test/helpers/fake-snowflake.ts) in a process of its own,
// for `npm run bench -- --source snowflake`: compiled on the fly with esbuild (no build needed),
// seeded with the benchmark's conversions in its DuckDB. It is not Snowflake: its rows/s are the
// stand-in's and the driver's, not a warehouse's.
// Usage: node scripts/fake-snowflake-server.mjs --rows N [--chunk-rows C]; prints one JSON line
// { url, account, user, password } once it listens.
import { build } from 'esbuild';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : fallback);
const rows = arg('rows', 1_000_000);
const chunkRows = arg('chunk-rows', 10_000);

const bundled = await build({
  entryPoints: [path.join(root, 'test/helpers/fake-snowflake.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  write: false,
  logLevel: 'error',
  // Packages with native parts (DuckDB) load from node_modules.
  packages: 'external',
});
// Written inside the checkout, so the bundle's imports of packages resolve from its node_modules.
mkdirSync(path.join(root, 'dist'), { recursive: true });
const file = path.join(root, 'dist', `.fake-snowflake-${process.pid}.mjs`);
writeFileSync(file, bundled.outputFiles[0].text);
let FakeSnowflake;
try {
  ({ FakeSnowflake } = await import(pathToFileURL(file).href));
} finally {
  rmSync(file, { force: true });
}

const fake = await new FakeSnowflake({ chunkRows }).start();
await fake.exec('CREATE SCHEMA bench');
await fake.exec(`CREATE TABLE bench.conversions AS SELECT
    i AS order_id, TIMESTAMP '2026-01-01 00:00:00' + to_milliseconds(i) AS updated_at,
    timezone('UTC', now()) - INTERVAL 1 HOUR - to_seconds(i % 3600) AS completed_at,
    CASE WHEN i % 7 = 0 THEN ' User.' || i || '@Example.COM ' ELSE 'user' || i || '@example.com' END AS email,
    CASE i % 4 WHEN 0 THEN '(415) 555-' || lpad(CAST(i % 10000 AS VARCHAR), 4, '0') WHEN 1 THEN '+1 212 555 ' || lpad(CAST(i % 10000 AS VARCHAR), 4, '0') ELSE NULL END AS phone,
    '198.51.100.' || (i % 254 + 1) AS ip,
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' AS user_agent,
    (['Alice', 'Bob', 'Chloé', 'Dmitri', 'Emma'])[i % 5 + 1] AS first_name, (['US', 'United States', 'usa', 'CA', 'GB'])[i % 5 + 1] AS country,
    CAST((i % 50000) / 100.0 + 0.99 AS DECIMAL(12, 2)) AS total, 'USD' AS currency
  FROM range(1, ${rows + 1}) t(i)`);
console.log(JSON.stringify({ url: fake.url, account: fake.account, user: fake.user, password: fake.password }));
const stop = () => fake.stop().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
