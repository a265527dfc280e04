// `pinsync run` end to end: the built CLI as a subprocess, a real PostgreSQL, and the
// fake Pinterest server on 127.0.0.1. Each test starts from an empty table, no state and a reset fake.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BIN, runCli } from '../helpers/cli.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';
import { freshDatabase, withClient } from '../helpers/pg.js';

const BATCH = 100;
const CONCURRENCY = 4;
let work: string;
let dbUrl: string;
let fake: FakePinterest;
let nextId = 1;

const SYNC = `version: 1
name: pg_orders
source:
  type: postgres
  url: \${WAREHOUSE_URL}
  table: shop.orders
  primary_key: order_id
  cursor: updated_at
destination:
  ad_account_id: \${PINTEREST_AD_ACCOUNT_ID}
  access_token: \${PINTEREST_ACCESS_TOKEN}
  batch_size: ${BATCH}
  concurrency: ${CONCURRENCY}
  max_retry_time: 4s
match:
  em: email
  ph: phone
  client_ip_address: ip
  client_user_agent: ua
mappings:
  event_name: { value: checkout }
  action_source: { value: web }
  event_time: completed_at
  custom_data.value: total
  custom_data.currency: currency
options:
  default_country: US
  max_reject_rate: 0.5
`;

/** Adds rows; every 50th has no usable identifier. Rows share updated_at in tens, to exercise ties. */
async function addRows(count: number): Promise<number[]> {
  const ids = Array.from({ length: count }, () => nextId++);
  await withClient(dbUrl, async (c) => {
    await c.query(
      `INSERT INTO shop.orders
       SELECT i, clock_timestamp() + (i / 10) * interval '1 microsecond', now() - interval '1 hour',
              CASE WHEN i % 50 = 0 THEN NULL ELSE 'User' || i || '@Example.com' END,
              CASE WHEN i % 3 = 0 THEN '(415) 555-' || lpad((i % 10000)::text, 4, '0') END,
              CASE WHEN i % 50 = 0 THEN NULL ELSE '192.0.2.' || (i % 250 + 1) END,
              'Mozilla/5.0', (i % 997) + 0.99, 'USD'
       FROM unnest($1::bigint[]) AS i`,
      [ids],
    );
  });
  return ids;
}

const sendable = (ids: number[]) => ids.filter((i) => i % 50 !== 0).map(String);

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    WAREHOUSE_URL: dbUrl,
    PINTEREST_API_URL: fake.url,
    PINTEREST_AD_ACCOUNT_ID: fake.adAccountId,
    PINTEREST_ACCESS_TOKEN: fake.token,
    PINSYNC_STATE: path.join(work, 'state.db'),
    ...extra,
  };
}

const run = (args: string[] = [], extra: Record<string, string> = {}) => runCli(['run', 'syncs/orders.yaml', ...args], { cwd: work, env: env(extra) });
const status = async () => {
  const result = await runCli(['status', 'pg_orders', '--json'], { cwd: work, env: env() });
  if (result.code !== 0) throw new Error(`status failed: ${result.stderr}`);
  return JSON.parse(result.stdout)[0];
};

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'pinsync-run-'));
  rmSync(path.join(work, 'syncs'), { recursive: true, force: true });
  await import('node:fs').then((fs) => fs.mkdirSync(path.join(work, 'syncs')));
  writeFileSync(path.join(work, 'syncs', 'orders.yaml'), SYNC);
  dbUrl = await freshDatabase('run_e2e');
  await withClient(dbUrl, (c) => c.query(`CREATE SCHEMA shop; CREATE TABLE shop.orders (
    order_id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, completed_at timestamptz, email text, phone text,
    ip text, ua text, total numeric(12,2), currency text)`));
  fake = await new FakePinterest().start();
});

beforeEach(async () => {
  await withClient(dbUrl, (c) => c.query('TRUNCATE shop.orders'));
  nextId = 1;
  for (const file of ['state.db', 'state.db-wal', 'state.db-shm']) rmSync(path.join(work, file), { force: true });
  fake.reset();
});

/** A first run of `count` rows, so that a test starts from a checkpoint and a recorded run. */
async function priorRun(count: number): Promise<number[]> {
  const ids = await addRows(count);
  expect((await run()).code).toBe(0);
  fake.reset();
  return ids;
}

afterAll(async () => {
  await fake.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('pinsync run', () => {
  it('delivers every sendable row exactly once, rejects the rest locally, and checkpoints', async () => {
    const firstIds = await addRows(2500);
    const result = await run(['--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect([...fake.delivered.keys()].sort()).toEqual(sendable(firstIds).sort());
    expect(fake.duplicates()).toEqual([]);
    expect(fake.largestBatch).toBe(BATCH);
    expect([...fake.userAgents]).toEqual([expect.stringMatching(/^pinsync\/\d+\.\d+\.\d+ /)]);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({
      sync: 'pg_orders', outcome: 'succeeded', exit_code: 0, rows_read: 2500, events_sent: 2450, processed: 2450,
      rejected_local: 50, rejected_pinterest: 0, resent: 0,
    });
    expect(summary.checkpoint.key).toBe('2500');
    const state = await status();
    expect(state.runs[0]).toMatchObject({ outcome: 'succeeded', rows_read: 2500, processed: 2450, rejected_local: 50 });
    expect(state.last_run_rejects).toHaveLength(50);
    expect(state.last_run_rejects[0]).toMatchObject({ primary_key: '50', stage: 'local', event_id: null });
    expect(state.last_run_rejects[0].reason).toMatch(/^user_data: no usable identifier/);
    expect(JSON.stringify(state)).not.toMatch(/@example\.com/i);
  });

  it('sends only new or changed rows on the next run, and nothing when nothing changed', async () => {
    const firstIds = await priorRun(200);
    const fresh = await addRows(30);
    const changed = firstIds.slice(100, 120);
    await withClient(dbUrl, (c) => c.query('UPDATE shop.orders SET updated_at = clock_timestamp(), total = total + 1 WHERE order_id = ANY($1::bigint[])', [changed]));
    fake.delivered.clear();
    const result = await run();
    expect(result.code).toBe(0);
    expect([...fake.delivered.keys()].sort()).toEqual([...sendable(fresh), ...sendable(changed)].sort());
    expect(result.stdout).toMatch(/rows read 50, events sent 50, processed 50, rejected 0 \(0 locally, 0 by Pinterest\)/);
    fake.delivered.clear();
    const again = await run();
    expect(again.code).toBe(0);
    expect(fake.delivered.size).toBe(0);
    expect(again.stdout).toMatch(/rows read 0, events sent 0/);
  });

  it("records Pinterest's per-event failures, from a 200 and from a 422, with its message", async () => {
    const ids = await addRows(200);
    fake.failEvents.set(String(ids[0]), 'Event time is too old.');
    fake.failEvents.set(String(ids[150]), 'Invalid currency.');
    fake.failuresAs422 = true;
    const result = await run(['--json']);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ processed: 194, rejected_pinterest: 2, rejected_local: 4 });
    expect(summary.rejects_by_reason).toMatchObject({ 'pinterest: Event time is too old.': 1, 'pinterest: Invalid currency.': 1 });
    const rejects = (await status()).last_run_rejects.filter((r: { stage: string }) => r.stage === 'pinterest');
    expect(rejects).toEqual([
      { primary_key: String(ids[0]), event_id: String(ids[0]), stage: 'pinterest', reason: 'Event time is too old.' },
      { primary_key: String(ids[150]), event_id: String(ids[150]), stage: 'pinterest', reason: 'Invalid currency.' },
    ]);
    fake.failEvents.clear();
    fake.failuresAs422 = false;
  });

  it('splits a batch refused with 400 until the bad event stands alone', async () => {
    const ids = await addRows(100);
    fake.delivered.clear();
    fake.badRequestEvents.add(String(ids[37]));
    const result = await run(['--json']);
    fake.badRequestEvents.clear();
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ processed: 97, rejected_pinterest: 1, rejected_local: 2 });
    expect([...fake.delivered.keys()].sort()).toEqual(sendable(ids).filter((id) => id !== String(ids[37])).sort());
    expect((await status()).last_run_rejects.find((r: { stage: string }) => r.stage === 'pinterest')).toMatchObject({
      primary_key: String(ids[37]), reason: '400: The request was invalid.',
    });
  });

  it('retries 429 (honouring Retry-After) and 503, then delivers each event once', async () => {
    const ids = await addRows(150);
    fake.delivered.clear();
    fake.script.push({ status: 429, retryAfter: '1' }, { status: 503 }, { status: 503 });
    const started = Date.now();
    const result = await run();
    expect(result.code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect([...fake.delivered.keys()].sort()).toEqual(sendable(ids).sort());
    expect(fake.duplicates()).toEqual([]);
  });

  it('stops at once on 401, exit 1, saying what is wrong without showing the token', async () => {
    await priorRun(20);
    const ids = await addRows(20);
    fake.delivered.clear();
    const before = (await status()).checkpoint;
    const result = await run([], { PINTEREST_ACCESS_TOKEN: 'pina_WRONG_token_value' });
    expect(fake.delivered.size).toBe(0);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Pinterest refused the access token (401');
    expect(result.stdout + result.stderr).not.toContain('pina_WRONG_token_value');
    expect(before).toMatchObject({ key: '20' });
    expect((await status()).checkpoint).toEqual(before);
    expect((await status()).runs[0]).toMatchObject({ outcome: 'failed' });
    // The rows are not lost: the next run with the right token sends them.
    fake.delivered.clear();
    expect((await run()).code).toBe(0);
    expect([...fake.delivered.keys()].sort()).toEqual(sendable(ids).sort());
  });

  it('stops on 403 naming the ad account', async () => {
    await addRows(5);
    const result = await run([], { PINTEREST_AD_ACCOUNT_ID: '111' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Pinterest denied access to ad account 111 (403');
    fake.delivered.clear();
    expect((await run()).code).toBe(0);
    expect(fake.delivered.size).toBe(5);
  });

  it('fails with exit 1 when retries run out, and the next run delivers everything', async () => {
    const ids = await addRows(300);
    fake.delivered.clear();
    fake.always = { status: 503 };
    const failed = await run();
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/Pinterest kept failing for \d+s \(last: 503/);
    fake.always = undefined;
    const next = await run();
    expect(next.code).toBe(0);
    expect([...fake.delivered.keys()].sort()).toEqual(sendable(ids).sort());
  });

  it('keeps destination.concurrency batches in flight, never more', async () => {
    const ids = await addRows(1200);
    fake.delivered.clear();
    fake.mostPending = 0;
    // Slow answers, so that every batch the run may send is open at the server at once.
    fake.latencyMs = 100;
    const result = await run();
    fake.latencyMs = 0;
    expect(result.code).toBe(0);
    expect([...fake.delivered.keys()].sort()).toEqual(sendable(ids).sort());
    expect(fake.mostPending).toBe(CONCURRENCY);
  });

  it('after a SIGKILL mid-run, the next run delivers the rest and resends at most the in-flight batches', async () => {
    const ids = await addRows(4000);
    fake.delivered.clear();
    fake.latencyMs = 150;
    const child = spawn(process.execPath, [BIN, 'run', 'syncs/orders.yaml'], { cwd: work, env: { ...process.env, ...env() } });
    await fake.deliveredAtLeast(1000, new Promise((resolve) => child.once('exit', resolve)));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    const beforeRestart = fake.delivered.size;
    expect(beforeRestart).toBeLessThan(sendable(ids).length);
    fake.latencyMs = 0;
    const result = await run(['--json']);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect([...fake.delivered.keys()].sort()).toEqual(sendable(ids).sort());
    const duplicates = fake.duplicates();
    expect(duplicates.length).toBeLessThanOrEqual(summary.resent);
    expect(summary.resent).toBeLessThanOrEqual(CONCURRENCY * BATCH);
    expect(summary.resent).toBeGreaterThan(0);
    expect((await runCli(['status', 'pg_orders'], { cwd: work, env: env() })).stdout).toMatch(/resent \d+/);
  });

  it('preview --remote-test sends with ?test=true and writes no state; run --dry-run sends nothing', async () => {
    await priorRun(20);
    const ids = await addRows(10);
    const before = await status();
    expect(before.runs).toHaveLength(1);
    const remote = await runCli(['preview', 'syncs/orders.yaml', '--remote-test'], { cwd: work, env: env() });
    expect(remote.code).toBe(0);
    expect(remote.stdout).toContain('test mode');
    expect([...fake.testDelivered.keys()].sort()).toEqual(sendable(ids).sort());
    expect(fake.delivered.size).toBe(0);
    const dry = await run(['--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout.trim().split('\n')).toHaveLength(sendable(ids).length);
    expect(fake.delivered.size).toBe(0);
    expect(await status()).toEqual(before);
  });

  it('reset clears the checkpoint or moves it, and --full-refresh reads from the start', async () => {
    await priorRun(300);
    expect((await status()).checkpoint).toMatchObject({ key: '300' });
    const reset = await runCli(['reset', 'syncs/orders.yaml'], { cwd: work, env: env() });
    expect(reset.code).toBe(0);
    expect((await status()).checkpoint).toBeNull();
    fake.delivered.clear();
    const all = await run(['--json']);
    expect(JSON.parse(all.stdout).rows_read).toBe(nextId - 1);
    const latest = await withClient(dbUrl, async (c) => (await c.query("SELECT (max(updated_at) - interval '1 microsecond')::text AS t FROM shop.orders")).rows[0].t as string);
    await runCli(['reset', 'pg_orders', '--to', latest], { cwd: work, env: env() });
    const after = await withClient(dbUrl, async (c) => (await c.query('SELECT count(*)::int AS n FROM shop.orders WHERE updated_at > $1::timestamptz', [latest])).rows[0].n as number);
    expect(JSON.parse((await run(['--json'])).stdout).rows_read).toBe(after);
    expect(JSON.parse((await run(['--json', '--full-refresh'])).stdout).rows_read).toBe(nextId - 1);
  });
});
