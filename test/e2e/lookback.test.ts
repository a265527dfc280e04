// Late-arriving rows: `lookback` re-reads a window before the checkpoint, and the ledger of
// delivered events keeps what was sent before from being sent again. Real PostgreSQL.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';
import { freshDatabase, withClient } from '../helpers/pg.js';

let work: string;
let dbUrl: string;
let fake: FakePinterest;
let nextId = 1;

/** A sync of `table` with a `lookback` window; `destination` lines added as given. */
const syncFile = (table: string, lookback: string, destination: string[] = []) => `version: 1
source:
  type: postgres
  url: \${WAREHOUSE_URL}
  table: ${table}
  primary_key: id
  cursor: updated_at
  lookback: ${lookback}
destination:
  ad_account_id: \${PINTEREST_AD_ACCOUNT_ID}
  access_token: \${PINTEREST_ACCESS_TOKEN}
${destination.map((l) => `${l}\n`).join('')}match:
  em: email
mappings:
  event_name: { value: checkout }
  action_source: { value: offline }
  event_time: created_at
`;

beforeAll(async () => {
  dbUrl = await freshDatabase('lookback_e2e');
  await withClient(dbUrl, (c) => c.query('CREATE TABLE orders (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, created_at timestamptz NOT NULL, email text)'));
  fake = await new FakePinterest().start();
  work = mkdtempSync(path.join(tmpdir(), 'pinsync-lookback-'));
  mkdirSync(path.join(work, 'syncs'));
  writeFileSync(path.join(work, 'syncs', 'late.yaml'), syncFile('orders', '2h', ['  batch_size: 50', '  max_retry_time: 2s']));
});

// Each test starts from an empty table, no state and a reset fake.
beforeEach(async () => {
  await withClient(dbUrl, (c) => c.query('TRUNCATE orders; DROP TABLE IF EXISTS orders_short'));
  nextId = 1;
  for (const file of ['state.db', 'state.db-wal', 'state.db-shm']) rmSync(path.join(work, file), { force: true });
  fake.reset();
});

afterAll(async () => {
  await fake.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Rows whose cursor (and event time) is `ageMinutes` ago. */
async function addRows(count: number, ageMinutes: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => nextId++);
  await withClient(dbUrl, (c) => c.query(
    "INSERT INTO orders SELECT i, now() - $2 * interval '1 minute', now() - interval '1 minute', 'u' || i || '@example.com' FROM unnest($1::bigint[]) i",
    [ids, ageMinutes],
  ));
  return ids.map(String);
}

const env = () => ({
  WAREHOUSE_URL: dbUrl, PINTEREST_API_URL: fake.url, PINTEREST_AD_ACCOUNT_ID: fake.adAccountId,
  PINTEREST_ACCESS_TOKEN: fake.token, PINSYNC_STATE: path.join(work, 'state.db'),
});
const run = async () => JSON.parse((await runCli(['run', 'late', '--json'], { cwd: work, env: env() })).stdout);
const ledger = async () => JSON.parse((await runCli(['status', 'late', '--json'], { cwd: work, env: env() })).stdout)[0].ledger_entries as number;

describe('lookback', () => {
  it('delivers rows that land late inside the window exactly once, and never resends the others', async () => {
    const early = await addRows(100, 400);
    await addRows(100, 30);
    expect(await run()).toMatchObject({ rows_read: 200, processed: 200 });
    // Rows committed late: their cursor is before the checkpoint, inside the 2h window, or outside it.
    const late = await addRows(20, 60);
    const tooLate = await addRows(5, 300);
    const fresh = await addRows(10, 0);
    fake.delivered.clear();
    const second = await run();
    expect([...fake.delivered.keys()].sort()).toEqual([...late, ...fresh].sort());
    // The recent rows were read again inside the window, and recognised.
    expect(second).toMatchObject({ processed: 30, already_delivered: 100 });
    expect(tooLate.some((id) => fake.delivered.has(id))).toBe(false);
    fake.delivered.clear();
    expect(await run()).toMatchObject({ processed: 0, already_delivered: 130 });
    expect(fake.delivered.size).toBe(0);
    void early;
  });

  it('prunes the ledger as the checkpoint advances, so it stays small', async () => {
    await addRows(100, 400);
    await addRows(100, 30);
    await run();
    // The 100 early rows lay outside the window at once: only the 100 recent ones are kept.
    expect(await ledger()).toBe(100);
    await addRows(20, 60);
    await addRows(5, 300);
    await addRows(10, 0);
    await run();
    // Then the 130 it can reach: the recent, the late and the fresh rows.
    expect(await ledger()).toBe(130);
  });
});

describe('lookback with a short window', () => {
  it('keeps in the ledger only what the window can still reach', async () => {
    writeFileSync(path.join(work, 'syncs', 'short.yaml'), syncFile('orders_short', '1m'));
    await withClient(dbUrl, (c) => c.query(`CREATE TABLE orders_short (LIKE orders);
      INSERT INTO orders_short SELECT i, now() - interval '10 minutes', now() - interval '1 minute', 's' || i || '@example.com' FROM generate_series(1, 5) i;
      INSERT INTO orders_short SELECT i, now() - interval '5 minutes', now() - interval '1 minute', 's' || i || '@example.com' FROM generate_series(6, 8) i`));
    const runShort = async () => JSON.parse((await runCli(['run', 'short', '--json'], { cwd: work, env: env() })).stdout);
    const shortLedger = async () => JSON.parse((await runCli(['status', 'short', '--json'], { cwd: work, env: env() })).stdout)[0].ledger_entries as number;
    expect(await runShort()).toMatchObject({ processed: 8 });
    expect(await shortLedger()).toBe(3);
    await withClient(dbUrl, (c) => c.query(`INSERT INTO orders_short SELECT i, now(), now() - interval '1 minute', 's' || i || '@example.com' FROM generate_series(9, 10) i`));
    // The three rows 5 minutes back are re-read (window), recognised, then pruned with the window.
    expect(await runShort()).toMatchObject({ processed: 2, already_delivered: 3 });
    expect(await shortLedger()).toBe(2);
  });
});

describe('lookback when a run fails inside the window', () => {
  it('never moves the checkpoint back, so nothing delivered is sent twice', async () => {
    await addRows(100, 30);
    expect(await run()).toMatchObject({ rows_read: 100, processed: 100 });
    const before = JSON.parse((await runCli(['status', 'late', '--json'], { cwd: work, env: env() })).stdout)[0].checkpoint;
    await addRows(120, 0);
    fake.delivered.clear();
    fake.requests = 0;
    fake.failAfterRequests = 1;
    const failed = await runCli(['run', 'late', '--json'], { cwd: work, env: env() });
    fake.failAfterRequests = undefined;
    expect(failed.code).toBe(1);
    const after = JSON.parse((await runCli(['status', 'late', '--json'], { cwd: work, env: env() })).stdout)[0].checkpoint;
    expect(Date.parse(after.cursor.replace(' ', 'T').replace(/\+00$/, 'Z'))).toBeGreaterThanOrEqual(Date.parse(before.cursor.replace(' ', 'T').replace(/\+00$/, 'Z')));
    await run();
    expect(fake.duplicates()).toEqual([]);
    expect(fake.delivered.size).toBe(120);
  });
});
