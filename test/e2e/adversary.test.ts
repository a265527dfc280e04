// Adversarial cases for "every event exactly once, nothing leaked, no sync ever wedged":
// crashes on coarse cursors, reset --to on every cursor kind, sentinel cursor values, answers
// that mix good and bad events. The built CLI, a real PostgreSQL, the fake Pinterest.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';
import { freshDatabase, withClient } from '../helpers/pg.js';

let work: string;
let dbUrl: string;
let fake: FakePinterest;

beforeAll(async () => {
  dbUrl = await freshDatabase('adversary_e2e');
  fake = await new FakePinterest().start();
  work = mkdtempSync(path.join(tmpdir(), 'pinsync-adv-'));
  mkdirSync(path.join(work, 'syncs'));
});

afterAll(async () => {
  await fake.stop();
  rmSync(work, { recursive: true, force: true });
});

beforeEach(() => fake.reset());

interface SyncShape {
  primaryKey?: string;
  cursor?: string;
  lookback?: string;
  batchSize?: number;
  concurrency?: number;
  eventId?: string;
}

function writeSync(name: string, shape: SyncShape = {}): string {
  const lines = [
    'version: 1',
    'source:',
    '  type: postgres',
    '  url: ${WAREHOUSE_URL}',
    `  table: ${name}`,
    `  primary_key: ${shape.primaryKey ?? 'id'}`,
    ...(shape.cursor ? [`  cursor: ${shape.cursor}`] : []),
    ...(shape.lookback ? [`  lookback: ${shape.lookback}`] : []),
    'destination:',
    '  ad_account_id: ${PINTEREST_AD_ACCOUNT_ID}',
    '  access_token: ${PINTEREST_ACCESS_TOKEN}',
    `  batch_size: ${shape.batchSize ?? 20}`,
    `  concurrency: ${shape.concurrency ?? 1}`,
    '  max_retry_time: 2s',
    'match:',
    '  em: email',
    'mappings:',
    '  event_name: { value: checkout }',
    '  action_source: { value: web }',
    '  event_time: created_at',
    ...(shape.eventId ? [`  event_id: ${shape.eventId}`] : []),
  ];
  const file = path.join('syncs', `${name}.yaml`);
  writeFileSync(path.join(work, file), `${lines.join('\n')}\n`);
  return file;
}

async function sql(text: string, values: unknown[] = []): Promise<void> {
  await withClient(dbUrl, (c) => c.query(text, values));
}

async function createTable(name: string): Promise<void> {
  await sql(`CREATE TABLE ${name} (id bigint, updated_at timestamptz, naive timestamp, day date, version bigint, ref text,
    email text, created_at timestamptz NOT NULL DEFAULT now() - interval '1 minute')`);
}

const env = (extra: Record<string, string> = {}) => ({
  WAREHOUSE_URL: dbUrl, PINTEREST_API_URL: fake.url, PINTEREST_AD_ACCOUNT_ID: fake.adAccountId,
  PINTEREST_ACCESS_TOKEN: fake.token, PINSYNC_STATE: path.join(work, 'state.db'), ...extra,
});
const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { cwd: work, env: env(extra) });

async function run(name: string): Promise<{ result: CliResult; summary: Record<string, unknown> }> {
  const result = await cli(['run', name, '--json']);
  return { result, summary: result.stdout.trim() ? JSON.parse(result.stdout) : {} };
}

const delivered = () => [...fake.delivered.keys()].sort((a, b) => Number(a) - Number(b));

describe('sentinel cursor values', () => {
  it('a checkpoint on a -infinity timestamp does not wedge a lookback sync', async () => {
    await createTable('minus_inf');
    await sql(`INSERT INTO minus_inf (id, updated_at, email) SELECT i, '-infinity', 'm' || i || '@example.com' FROM generate_series(1, 3) i`);
    writeSync('minus_inf', { cursor: 'updated_at', lookback: '1h' });
    expect((await run('minus_inf')).summary).toMatchObject({ processed: 3 });
    await sql(`INSERT INTO minus_inf (id, updated_at, email) VALUES (4, now() - interval '5 minutes', 'm4@example.com')`);
    fake.reset();
    const second = await run('minus_inf');
    expect(second.result.stderr).toBe('');
    expect(second.result.code).toBe(0);
    expect(delivered()).toEqual(['4']);
    // The checkpoint left -infinity behind: the window works again, and nothing is sent twice.
    fake.reset();
    await sql(`INSERT INTO minus_inf (id, updated_at, email) VALUES (5, now() - interval '10 minutes', 'm5@example.com')`);
    expect((await run('minus_inf')).summary).toMatchObject({ processed: 1, already_delivered: 1 });
    expect(delivered()).toEqual(['5']);
  });

  it('a checkpoint on a -infinity date does not wedge a date-cursor sync', async () => {
    await createTable('minus_inf_day');
    await sql(`INSERT INTO minus_inf_day (id, day, email) SELECT i, '-infinity', 'd' || i || '@example.com' FROM generate_series(1, 3) i`);
    writeSync('minus_inf_day', { cursor: 'day' });
    expect((await run('minus_inf_day')).summary).toMatchObject({ processed: 3 });
    await sql(`INSERT INTO minus_inf_day (id, day, email) VALUES (4, current_date, 'd4@example.com')`);
    fake.reset();
    const second = await run('minus_inf_day');
    expect(second.result.code).toBe(0);
    expect(delivered()).toEqual(['4']);
    fake.reset();
    expect((await run('minus_inf_day')).summary).toMatchObject({ processed: 0, already_delivered: 1 });
  });
});
