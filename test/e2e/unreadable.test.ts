// The warnings about rows a run leaves out cost what the run reads: a run from a checkpoint
// counts only the rows stamped in the future (through the cursor's index), not the rows with a
// null cursor, which only a read from the start (or preview) counts. Real PostgreSQL.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';
import { freshDatabase, withClient } from '../helpers/pg.js';

let work: string;
let dbUrl: string;
let fake: FakePinterest;

beforeAll(async () => {
  dbUrl = await freshDatabase('unreadable_e2e');
  await withClient(dbUrl, async (c) => {
    await c.query('CREATE TABLE orders (id bigint PRIMARY KEY, updated_at timestamptz, email text)');
    await c.query('CREATE INDEX ON orders (updated_at, id)');
    await c.query(`INSERT INTO orders SELECT i, now() - interval '1 hour' + i * interval '1 second', 'u' || i || '@example.com' FROM generate_series(1, 20) i`);
    await c.query(`INSERT INTO orders VALUES (21, NULL, 'n21@example.com'), (22, NULL, 'n22@example.com'), (23, '2099-01-01', 'f23@example.com')`);
  });
  fake = await new FakePinterest().start();
  work = mkdtempSync(path.join(tmpdir(), 'pinsync-unreadable-'));
  mkdirSync(path.join(work, 'syncs'));
  writeFileSync(path.join(work, 'syncs', 'orders.yaml'), `version: 1
source:
  type: postgres
  url: \${WAREHOUSE_URL}
  table: orders
  primary_key: id
  cursor: updated_at
destination:
  ad_account_id: \${PINTEREST_AD_ACCOUNT_ID}
  access_token: \${PINTEREST_ACCESS_TOKEN}
  max_retry_time: 2s
match:
  em: email
mappings:
  event_name: { value: checkout }
  action_source: { value: offline }
  event_time: updated_at
`);
});

afterAll(async () => {
  await fake.stop();
  rmSync(work, { recursive: true, force: true });
});

const env = () => ({
  WAREHOUSE_URL: dbUrl, PINTEREST_API_URL: fake.url, PINTEREST_AD_ACCOUNT_ID: fake.adAccountId,
  PINTEREST_ACCESS_TOKEN: fake.token, PINSYNC_STATE: path.join(work, 'state.db'),
});

const NULLS = /2 rows have a null updated_at or id and are not read/;
const FUTURE = /1 row has updated_at later than now .* and is not read yet/;

describe('rows a run leaves out', () => {
  it('are all counted by the first run; later runs count only the future ones; preview counts all', async () => {
    const first = await runCli(['run', 'orders'], { cwd: work, env: env() });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(NULLS);
    expect(first.stderr).toMatch(FUTURE);
    await withClient(dbUrl, (c) => c.query("INSERT INTO orders VALUES (24, now(), 'u24@example.com')"));
    const second = await runCli(['run', 'orders', '--json'], { cwd: work, env: env() });
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ rows_read: 1, processed: 1 });
    expect(second.stderr).not.toMatch(NULLS);
    expect(second.stderr).toMatch(FUTURE);
    // A full refresh reads everything again, so it counts everything again.
    const full = await runCli(['run', 'orders', '--full-refresh'], { cwd: work, env: env() });
    expect(full.stderr).toMatch(NULLS);
    const preview = await runCli(['preview', 'orders'], { cwd: work, env: env() });
    expect(preview.code, preview.stderr).toBe(0);
    expect(preview.stderr).toMatch(NULLS);
  });
});
