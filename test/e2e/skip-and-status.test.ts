// Rows users mean to leave out (`skip:`), rejects a user can find (`status`), and the output
// details around them. The built CLI over DuckDB, the fake Pinterest on 127.0.0.1.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, runCli } from '../helpers/cli.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';
import { freshDatabase, withClient } from '../helpers/pg.js';

let work: string;
let fake: FakePinterest;

/** 300 orders: every 10th a test order, every 6th without an email (rejected), L0007 refused by Pinterest. */
function writeOrders(): void {
  const lines = ['order_id,kind,email,created'];
  const created = new Date(Date.now() - 3600_000).toISOString();
  for (let i = 1; i <= 300; i++) {
    const id = `L${String(i).padStart(4, '0')}`;
    lines.push(`${id},${i % 10 === 0 ? 'test_order' : 'purchase'},${i % 6 === 0 ? '' : `o${i}@example.org`},${created}`);
  }
  writeFileSync(path.join(work, 'syncs', 'data', 'orders.csv'), `${lines.join('\n')}\n`);
}

const SYNC = `version: 1
schedule: "0 3 * * *"
source:
  type: duckdb
  query: SELECT * FROM read_csv('data/orders.csv', all_varchar = true)
  primary_key: order_id
destination:
  ad_account_id: \${PINTEREST_AD_ACCOUNT_ID}
  access_token: \${PINTEREST_ACCESS_TOKEN}
  batch_size: 100
  max_retry_time: 2s
match:
  em: email
mappings:
  event_name: { value: checkout }
  action_source: { value: web }
  event_time: created
skip:
  kind: [test_order]
options:
  max_reject_rate: 0.2
`;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'pinsync-skip-'));
  mkdirSync(path.join(work, 'syncs', 'data'), { recursive: true });
  writeOrders();
  writeFileSync(path.join(work, 'syncs', 'orders.yaml'), SYNC);
  fake = await new FakePinterest().start();
});

afterAll(async () => {
  await fake.stop();
  rmSync(work, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}) => ({
  PINTEREST_API_URL: fake.url, PINTEREST_AD_ACCOUNT_ID: fake.adAccountId, PINTEREST_ACCESS_TOKEN: fake.token,
  PINSYNC_STATE: path.join(work, 'state.db'), ...extra,
});
const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { cwd: work, env: env(extra) });

/** No state and a reset fake: a test (or a describe's setup) that runs the sync starts from here. */
function freshState(): void {
  for (const file of ['state.db', 'state.db-wal', 'state.db-shm']) rmSync(path.join(work, file), { force: true });
  fake.reset();
}

/** The first run of the orders, with L0007 failed by Pinterest. */
async function runWithOneFailure(): Promise<CliResult> {
  fake.failEvents.set('L0007', 'Invalid event');
  const result = await cli(['run', 'orders', '--json']);
  fake.failEvents.clear();
  return result;
}

// 30 test orders skipped; of the other 270, every 6th (45, those not also test orders) has no email.
const SKIPPED = 30;
const REJECTED_LOCALLY = Array.from({ length: 300 }, (_, i) => i + 1).filter((i) => i % 6 === 0 && i % 10 !== 0).length;

describe('skip: rows left out on purpose', () => {
  it('are counted as skipped, never as rejects, and never sent', async () => {
    freshState();
    const result = await runWithOneFailure();
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ rows_read: 300, skipped: SKIPPED, rejected_local: REJECTED_LOCALLY, rejected_pinterest: 1 });
    expect(summary.processed).toBe(300 - SKIPPED - REJECTED_LOCALLY - 1);
    expect([...fake.delivered.keys()].some((id) => Number(id.slice(1)) % 10 === 0)).toBe(false);
    // 41 of 270 considered is 15%: under 0.2. Counted over all 300 rows read it would hide more.
    expect(result.code).toBe(0);
    const status = JSON.parse((await cli(['status', 'orders', '--json'])).stdout)[0];
    expect(status.last_run).toMatchObject({ skipped: SKIPPED, rejected_local: REJECTED_LOCALLY });
    expect((await cli(['status', 'orders'])).stdout).toContain(`skipped ${SKIPPED}`);
  });

  it('shows in preview as skipped, not among the rejects', async () => {
    const preview = await cli(['preview', 'orders', '--full-refresh']);
    expect(preview.stderr).toContain(`rows read 300, events ${300 - SKIPPED - REJECTED_LOCALLY}, rejected ${REJECTED_LOCALLY}, skipped ${SKIPPED} (by skip:)`);
    expect(preview.stderr).not.toMatch(/^L0010:/m);
  });
});

describe('status: rejects a user can find', () => {
  beforeAll(async () => {
    freshState();
    expect((await runWithOneFailure()).code).toBe(0);
  });

  it('counts the last run\'s rejects by stage and reason, lists the first ones, and says how many more', async () => {
    const text = (await cli(['status', 'orders', '--rejects', '5'])).stdout;
    expect(text).toContain(`rejects of run 1: ${REJECTED_LOCALLY + 1}, by reason:`);
    expect(text).toMatch(new RegExp(`\\s${REJECTED_LOCALLY}  \\[local\\]  user_data: no usable identifier`));
    expect(text).toMatch(/\s1 {2}\[pinterest\] {2}Invalid event/);
    expect(text).toContain(`… and ${REJECTED_LOCALLY + 1 - 5} more: pinsync status orders --rejects all`);
    const json = JSON.parse((await cli(['status', 'orders', '--json'])).stdout)[0];
    expect(json.last_run_rejects_total).toBe(REJECTED_LOCALLY + 1);
    expect(json.last_run_rejects).toHaveLength(REJECTED_LOCALLY + 1);
    expect(json.last_run_rejects_not_listed).toBe(0);
    expect(json.last_run_rejects_by_reason).toEqual([
      { stage: 'local', reason: expect.stringContaining('user_data: no usable identifier'), count: REJECTED_LOCALLY },
      { stage: 'pinterest', reason: 'Invalid event', count: 1 },
    ]);
  });

  it('lists every reject with --rejects all, and one stage with --stage', async () => {
    const all = JSON.parse((await cli(['status', 'orders', '--json', '--rejects', '2'])).stdout)[0];
    expect(all.last_run_rejects).toHaveLength(2);
    expect(all.last_run_rejects_not_listed).toBe(REJECTED_LOCALLY + 1 - 2);
    const pinterest = JSON.parse((await cli(['status', 'orders', '--json', '--stage', 'pinterest'])).stdout)[0];
    expect(pinterest.last_run_rejects).toEqual([{ primary_key: 'L0007', event_id: 'L0007', stage: 'pinterest', reason: 'Invalid event' }]);
    const text = (await cli(['status', 'orders', '--rejects', 'all'])).stdout;
    expect(text.split('\n').filter((l) => /^ {4}L\d{4} {2}\[/.test(l))).toHaveLength(REJECTED_LOCALLY + 1);
    expect((await cli(['status', 'orders', '--rejects', 'some'])).code).toBe(2);
  });

  it('shows the schedule line for one named sync, as for all of them', async () => {
    const one = (await cli(['status', 'orders'])).stdout;
    expect(one.split('\n')[0]).toMatch(/^orders {2}schedule "0 3 \* \* \*" \(UTC\), next /);
  });
});

describe('output details', () => {
  it('logs a run that rejects too much at warn, and its start line carries run_id', async () => {
    freshState();
    writeFileSync(path.join(work, 'syncs', 'orders.yaml'), SYNC.replace('max_reject_rate: 0.2', 'max_reject_rate: 0.01'));
    const result = await cli(['--log-format', 'json', 'run', 'orders', '--full-refresh']);
    writeFileSync(path.join(work, 'syncs', 'orders.yaml'), SYNC);
    expect(result.code).toBe(3);
    const lines = result.stderr.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.find((l) => l.phase === 'start')).toMatchObject({ sync: 'orders', run_id: 1 });
    expect(lines.find((l) => l.phase === 'finish')).toMatchObject({ level: 'warn', exit_code: 3 });
  });

  it('counts, in a --limit preview, only the identifiers of rows it read', async () => {
    // Rows 1-3 have good emails; every row has an unusable phone in this file.
    const lines = ['order_id,kind,email,phone,created'];
    for (let i = 1; i <= 50; i++) lines.push(`P${String(i).padStart(4, '0')},purchase,p${i}@example.org,not a phone,${new Date(Date.now() - 3600_000).toISOString()}`);
    writeFileSync(path.join(work, 'syncs', 'data', 'phones.csv'), `${lines.join('\n')}\n`);
    writeFileSync(path.join(work, 'syncs', 'phones.yaml'), SYNC.replace("'data/orders.csv'", "'data/phones.csv'").replace('  em: email', '  em: email\n  ph: phone'));
    const preview = await cli(['preview', 'phones', '--limit', '3']);
    expect(preview.stderr).toContain('rows read 3, events 3, rejected 0');
    expect(preview.stderr).toMatch(/^ +3 {2}ph: not a phone number/m);
  });
});

describe('status with state it may only read', () => {
  it('works for a PostgreSQL role that can read the state but not write it', async () => {
    const dbUrl = await freshDatabase('status_read_only');
    const stateUrl = `${dbUrl}?schema=pinsync`;
    expect((await cli(['run', 'orders'], { PINSYNC_STATE: stateUrl })).code).toBe(0);
    await withClient(dbUrl, (c) => c.query(`DROP ROLE IF EXISTS status_reader; CREATE ROLE status_reader LOGIN PASSWORD 'reader';
      GRANT USAGE ON SCHEMA pinsync TO status_reader; GRANT SELECT ON ALL TABLES IN SCHEMA pinsync TO status_reader`));
    const reader = new URL(stateUrl);
    reader.username = 'status_reader';
    reader.password = 'reader';
    const status = await cli(['status', 'orders', '--json'], { PINSYNC_STATE: reader.toString() });
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)[0].last_run).toMatchObject({ outcome: 'succeeded', skipped: SKIPPED });
  });
});
