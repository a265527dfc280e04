// `pinsync run` from DuckDB files, and the semantics of a sync without a cursor.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { BIN, runCli, waitUntil } from '../helpers/cli.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';

let work: string;
let fake: FakePinterest;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'pinsync-duckrun-'));
  mkdirSync(path.join(work, 'syncs', 'data'), { recursive: true });
  const lines = ['lead_id,email,created'];
  for (let i = 1; i <= 1234; i++) lines.push(`L${String(i).padStart(5, '0')},lead${i}@example.org,${new Date(Date.now() - 3600_000).toISOString()}`);
  writeFileSync(path.join(work, 'syncs', 'data', 'leads.csv'), `${lines.join('\n')}\n`);
  writeFileSync(path.join(work, 'syncs', 'leads.yaml'), `version: 1
source:
  type: duckdb
  query: SELECT * FROM read_csv('data/leads.csv')
  primary_key: lead_id
destination:
  ad_account_id: \${PINTEREST_AD_ACCOUNT_ID}
  access_token: \${PINTEREST_ACCESS_TOKEN}
  batch_size: 200
  concurrency: 1
  max_retry_time: 2s
match:
  em: email
mappings:
  event_name: { value: lead }
  action_source: { value: offline }
  event_time: created
`);
  fake = await new FakePinterest().start();
});

afterAll(async () => {
  await fake.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Runs recorded as running in a SQLite state file (0 while the file or its tables are not there yet). */
function runningRuns(file: string): number {
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare("SELECT count(*) AS n FROM runs WHERE outcome = 'running'").get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

const env = (state = 'state.db') => ({
  PINTEREST_API_URL: fake.url, PINTEREST_AD_ACCOUNT_ID: fake.adAccountId, PINTEREST_ACCESS_TOKEN: fake.token,
  PINSYNC_STATE: path.join(work, state),
});

function writeLeads(count: number): void {
  const lines = ['lead_id,email,created'];
  for (let i = 1; i <= count; i++) lines.push(`L${String(i).padStart(5, '0')},lead${i}@example.org,${new Date(Date.now() - 3600_000).toISOString()}`);
  writeFileSync(path.join(work, 'syncs', 'data', 'leads.csv'), `${lines.join('\n')}\n`);
}

describe('a sync without a cursor', () => {
  // Each test starts from the 1234 leads, no state and a reset fake.
  beforeEach(() => {
    writeLeads(1234);
    for (const name of readdirSync(work)) if (/\.db(-wal|-shm)?$/.test(name)) rmSync(path.join(work, name));
    fake.reset();
  });

  it('reads every row on every run, and the ledger keeps each event to one delivery', async () => {
    for (const round of [1, 2, 3]) {
      const result = await runCli(['run', 'leads', '--json'], { cwd: work, env: env() });
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({
        rows_read: 1234, already_delivered: round === 1 ? 0 : 1234, processed: round === 1 ? 1234 : 0, checkpoint: null,
      });
      expect(fake.delivered.size).toBe(1234);
      expect(fake.duplicates()).toEqual([]);
    }
    // The preview shows what a run would send: nothing the ledger holds.
    const preview = await runCli(['preview', 'leads'], { cwd: work, env: env() });
    expect(preview.stdout).toBe('');
    expect(preview.stderr).toContain('rows read 1234, events 0, rejected 0, already settled 1234 (delivered or rejected before; not sent again)');
    writeLeads(1300);
    const grown = JSON.parse((await runCli(['run', 'leads', '--json'], { cwd: work, env: env() })).stdout);
    expect(grown).toMatchObject({ rows_read: 1300, already_delivered: 1234, processed: 66 });
    expect(fake.delivered.size).toBe(1300);
    expect(fake.duplicates()).toEqual([]);
    const status = JSON.parse((await runCli(['status', 'leads', '--json'], { cwd: work, env: env() })).stdout)[0];
    expect(status.checkpoint).toBeNull();
    expect(status.runs).toHaveLength(4);
  });

  it('keeps no ledger for test-mode sends, and reset clears it', async () => {
    const testSync = path.join(work, 'syncs', 'leads_test.yaml');
    writeFileSync(testSync, (await import('node:fs')).readFileSync(path.join(work, 'syncs', 'leads.yaml'), 'utf8')
      .replace('version: 1\n', 'version: 1\nname: leads_test\n').replace('  batch_size: 200', '  batch_size: 200\n  test: true'));
    const state = 'testmode.db';
    expect((await runCli(['run', 'leads_test'], { cwd: work, env: env(state) })).code).toBe(0);
    const status = async () => JSON.parse((await runCli(['status', 'leads_test', '--json'], { cwd: work, env: env(state) })).stdout)[0];
    expect((await status()).ledger_entries).toBe(0);
    rmSync(testSync);
    // The live sync keeps one; reset makes the next run send everything again.
    expect((await status()).last_run.already_delivered).toBe(0);
    expect(JSON.parse((await runCli(['run', 'leads', '--json'], { cwd: work, env: env() })).stdout)).toMatchObject({ processed: 1234 });
    expect(JSON.parse((await runCli(['status', 'leads', '--json'], { cwd: work, env: env() })).stdout)[0].ledger_entries).toBe(1234);
    expect((await runCli(['reset', 'leads'], { cwd: work, env: env() })).stdout).toContain('checkpoint and ledger cleared');
    fake.delivered.clear();
    const again = JSON.parse((await runCli(['run', 'leads', '--json'], { cwd: work, env: env() })).stdout);
    expect(again).toMatchObject({ already_delivered: 0, processed: 1234 });
  });

  it('resumes after the last settled batch when a run fails part-way', async () => {
    fake.delivered.clear();
    fake.requests = 0;
    fake.failAfterRequests = 3;
    const failed = await runCli(['run', 'leads', '--json'], { cwd: work, env: env('fresh.db') });
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({ processed: 600, checkpoint: { cursor: null, key: 'L00600' } });
    fake.failAfterRequests = undefined;
    const resumed = await runCli(['run', 'leads', '--json'], { cwd: work, env: env('fresh.db') });
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ rows_read: 634, processed: 634, checkpoint: null });
    expect(fake.delivered.size).toBe(1234);
    expect(fake.duplicates()).toEqual([]);
  });
});

describe('what a run sends', () => {
  it('is byte for byte what preview prints, multi-byte text included', async () => {
    // Accents, CJK, emoji (four UTF-8 bytes), quotes and a backslash, across two pages of rows.
    const names = ['Zoë', '李', 'Émile "the \\ first"', 'Ana 🚀', 'plain'];
    const lines = ['order_ref,email,name,agent,created'];
    for (let i = 1; i <= 2500; i++) {
      const name = names[i % names.length]!;
      lines.push(`"ord-${i}-${name.replace(/"/g, '""')}",buyer${i}@example.org,"${name.replace(/"/g, '""')}","Agent/${i} (${name.replace(/"/g, '""')})",${new Date(Date.now() - 3600_000).toISOString()}`);
    }
    writeFileSync(path.join(work, 'syncs', 'data', 'orders.csv'), `${lines.join('\n')}\n`);
    writeFileSync(path.join(work, 'syncs', 'unicode.yaml'), `version: 1
source:
  type: duckdb
  query: SELECT * FROM read_csv('data/orders.csv', quote = '"', escape = '"')
  primary_key: order_ref
  cursor: created
destination:
  ad_account_id: \${PINTEREST_AD_ACCOUNT_ID}
  access_token: \${PINTEREST_ACCESS_TOKEN}
  batch_size: 1000
  concurrency: 2
match:
  em: email
  fn: name
  client_user_agent: agent
mappings:
  event_name: { value: checkout }
  action_source: { value: web }
  event_time: created
  custom_data.content_name: agent
`);
    const preview = await runCli(['preview', 'unicode'], { cwd: work, env: env('unicode.db') });
    expect(preview.code, preview.stderr).toBe(0);
    const printed = preview.stdout.trim().split('\n');
    expect(printed).toHaveLength(2500);
    fake.reset();
    const run = await runCli(['run', 'unicode', '--json'], { cwd: work, env: env('unicode.db') });
    expect(run.code, run.stderr).toBe(0);
    const sent = fake.bodies.map((body) => JSON.parse(body).data.map((e: unknown) => JSON.stringify(e)) as string[]).flat();
    expect(new Set(sent)).toEqual(new Set(printed));
    // The bodies themselves are the printed events joined, with nothing re-encoded on the way.
    for (const body of fake.bodies) {
      const events = (JSON.parse(body) as { data: unknown[] }).data.map((e) => JSON.stringify(e));
      expect(body).toBe(`{"data":[${events.join(',')}]}`);
    }
    expect(sent.filter((e) => e.includes('🚀'))).toHaveLength(500);
  });
});

describe('stopping a DuckDB run', () => {
  it('on SIGINT in the middle of reading, settles what is in flight and exits 0; the next run sends the rest', async () => {
    const rows = 60_000;
    writeFileSync(path.join(work, 'syncs', 'many.yaml'), `version: 1
source:
  type: duckdb
  query: >-
    SELECT 'M' || i AS id, 'user' || i || '@example.org' AS email,
      TIMESTAMPTZ '${new Date(Date.now() - 3600_000).toISOString()}' + i * INTERVAL 1 MICROSECOND AS created
    FROM range(${rows}) t(i)
  primary_key: id
  cursor: created
destination:
  ad_account_id: \${PINTEREST_AD_ACCOUNT_ID}
  access_token: \${PINTEREST_ACCESS_TOKEN}
  batch_size: 500
  concurrency: 2
match:
  em: email
mappings:
  event_name: { value: lead }
  action_source: { value: offline }
  event_time: created
`);
    fake.reset();
    fake.delivered.clear();
    fake.latencyMs = 40;
    const child = spawn(process.execPath, [BIN, 'run', 'many'], { cwd: work, env: { ...process.env, ...env('many.db') } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    await fake.deliveredAtLeast(2000, exited);
    child.kill('SIGINT');
    expect(await exited, stderr).toEqual({ code: 0, signal: null });
    expect(fake.delivered.size).toBeLessThan(rows);
    fake.latencyMs = 0;
    const next = await runCli(['run', 'many', '--json'], { cwd: work, env: env('many.db') });
    expect(next.code, next.stderr).toBe(0);
    expect(fake.delivered.size).toBe(rows);
    expect(fake.duplicates()).toEqual([]);
  });

  it('on SIGINT while every row is rejected (nothing to send), stops reading at once', async () => {
    // Old events are rejected locally: the run only reads, and must still hear the signal.
    const rows = 3_000_000;
    writeFileSync(path.join(work, 'syncs', 'stale.yaml'), `version: 1
source:
  type: duckdb
  query: SELECT i AS id, TIMESTAMP '2020-01-01' + to_seconds(i) AS ts, 'u' || i || '@example.org' AS email FROM range(${rows}) t(i)
  primary_key: id
  cursor: ts
destination:
  ad_account_id: \${PINTEREST_AD_ACCOUNT_ID}
  access_token: \${PINTEREST_ACCESS_TOKEN}
match:
  em: email
mappings:
  event_name: { value: checkout }
  action_source: { value: web }
  event_time: ts
`);
    const child = spawn(process.execPath, [BIN, 'run', 'stale'], { cwd: work, env: { ...process.env, ...env('stale.db') } });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.stderr.on('data', () => undefined);
    // The signal goes once the run is under way (its run is recorded), not at a fixed time.
    await waitUntil(() => runningRuns(path.join(work, 'stale.db')) > 0);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const status = await runCli(['status', 'stale', '--json'], { cwd: work, env: env('stale.db') });
    const [sync] = JSON.parse(status.stdout) as { last_run: { outcome: string; rows_read: number } }[];
    expect(sync!.last_run.outcome).toBe('interrupted');
    expect(sync!.last_run.rows_read).toBeLessThan(rows);
  });
});
