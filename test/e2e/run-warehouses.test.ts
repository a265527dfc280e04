// `pinsync validate --connect`, `preview`, `run` and `status` from Snowflake and Redshift, as a
// user runs them: the built CLI, the official snowflake-sdk against the local Snowflake stand-in,
// the Redshift source's SQL on the embedded PostgreSQL, the fake Pinterest. Includes a run killed
// mid-way and the run that resumes it.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';
import { FakeSnowflake } from '../helpers/fake-snowflake.js';
import { freshDatabase, withClient } from '../helpers/pg.js';

const ROWS = 1200;
const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `c${from + i}`).sort();

/** What differs between the two warehouses: how rows get there, and the sync file's source block. */
interface Warehouse {
  name: string;
  start(work: string): Promise<void>;
  stop(): Promise<void>;
  /** conversions(conversion_id, updated_at, email, revenue): rows from..to, stamped an hour ago plus i microseconds. */
  insert(from: number, to: number): Promise<void>;
  source: string;
  env(): Record<string, string>;
  /** Text that must never appear in output: the warehouse's secrets. */
  secrets(): string[];
}

function snowflake(): Warehouse {
  let fake: FakeSnowflake;
  let ready = false;
  return {
    name: 'Snowflake',
    async start(work) {
      // Small chunks: a run of 1,200 rows downloads several.
      fake = await new FakeSnowflake({ chunkRows: 300, database: 'ANALYTICS' }).start();
      writeFileSync(path.join(work, 'syncs', 'pinsync_key.p8'), fake.encryptedPrivateKeyPem('key passphrase'));
    },
    stop: () => fake.stop(),
    async insert(from, to) {
      if (!ready) {
        await fake.exec('CREATE SCHEMA marketing');
        await fake.exec('CREATE TABLE marketing.conversions (conversion_id VARCHAR, updated_at TIMESTAMP, email VARCHAR, revenue DECIMAL(12,2))');
        ready = true;
      }
      await fake.exec(`INSERT INTO marketing.conversions SELECT 'c' || i, timezone('UTC', now()) - INTERVAL 1 HOUR + to_microseconds(i),
        'User' || i || '@Example.com', CAST(i AS DECIMAL(12,2)) + 0.5 FROM range(${from}, ${to + 1}) t(i)`);
    },
    source: `source:
  type: snowflake
  account: \${SNOWFLAKE_ACCOUNT}
  user: PINSYNC
  private_key_file: pinsync_key.p8
  private_key_passphrase: \${SNOWFLAKE_KEY_PASSPHRASE}
  warehouse: PINSYNC_WH
  database: ANALYTICS
  schema: marketing
  table: conversions
  primary_key: conversion_id
  cursor: updated_at
`,
    env: () => ({ PINSYNC_SNOWFLAKE_URL: fake.url, SNOWFLAKE_ACCOUNT: fake.account, SNOWFLAKE_KEY_PASSPHRASE: 'key passphrase' }),
    secrets: () => ['key passphrase', 'PRIVATE KEY'],
  };
}

function redshift(): Warehouse {
  let url = '';
  return {
    name: 'Redshift',
    async start() {
      url = await freshDatabase('warehouses_redshift');
      await withClient(url, (c) => c.query(`CREATE SCHEMA marketing;
        CREATE TABLE marketing.conversions (conversion_id varchar(32), updated_at timestamp, email varchar(256), revenue numeric(12,2))`));
    },
    stop: async () => undefined,
    insert: (from, to) => withClient(url, (c) => c.query(`INSERT INTO marketing.conversions SELECT 'c' || i,
      (now() AT TIME ZONE 'UTC') - interval '1 hour' + i * interval '1 microsecond', 'User' || i || '@Example.com', i + 0.5
      FROM generate_series(${from}, ${to}) i`)).then(() => undefined),
    // The embedded PostgreSQL has no TLS; a real cluster keeps the default (ssl: true).
    source: `source:
  type: redshift
  url: \${REDSHIFT_URL}
  ssl: false
  table: marketing.conversions
  primary_key: conversion_id
  cursor: updated_at
`,
    env: () => ({ REDSHIFT_URL: url }),
    secrets: () => [new URL(url).password],
  };
}

describe.each([snowflake(), redshift()])('pinsync from $name', (warehouse) => {
  let work: string;
  let pinterest: FakePinterest;
  // Rows in the table so far: each test starts from a reset state, whatever ran before it.
  let total = 0;
  const insertMore = async (n: number) => {
    await warehouse.insert(total + 1, total + n);
    total += n;
  };

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'pinsync-warehouse-'));
    mkdirSync(path.join(work, 'syncs'));
    await warehouse.start(work);
    pinterest = await new FakePinterest().start();
    await insertMore(ROWS);
    writeFileSync(path.join(work, 'syncs', 'conversions.yaml'), `version: 1
${warehouse.source}destination:
  ad_account_id: \${PINTEREST_AD_ACCOUNT_ID}
  access_token: \${PINTEREST_ACCESS_TOKEN}
  batch_size: 100
  concurrency: 2
match:
  em: email
mappings:
  event_name: { value: checkout }
  action_source: { value: web }
  event_time: updated_at
  custom_data.value: revenue
`);
  });
  afterAll(async () => {
    await warehouse.stop();
    await pinterest.stop();
    rmSync(work, { recursive: true, force: true });
  });
  beforeEach(() => pinterest.reset());

  const env = () => ({
    ...warehouse.env(), PINTEREST_API_URL: pinterest.url, PINTEREST_AD_ACCOUNT_ID: pinterest.adAccountId,
    PINTEREST_ACCESS_TOKEN: pinterest.token, PINSYNC_STATE: path.join(work, 'state.db'),
  });
  const cli = (args: string[]) => runCli(args, { cwd: work, env: env() });
  const expectNoSecrets = (text: string) => {
    for (const secret of [...warehouse.secrets(), pinterest.token]) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/@example\.com/i);
  };
  const delivered = () => [...pinterest.delivered.keys()].sort();

  it('validates with --connect and previews the exact events', async () => {
    const validate = await cli(['validate', 'syncs/conversions.yaml', '--connect']);
    expect(validate.stderr).toBe('');
    expect(validate.code).toBe(0);
    const preview = await cli(['preview', 'conversions', '--limit', '2']);
    expect(preview.code).toBe(0);
    const events = preview.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>);
    expect(events.map((e) => e.event_id)).toEqual(['c1', 'c2']);
    // Exact decimals, and the e-mail normalized, then hashed.
    expect(events[0]!.custom_data.value).toBe('1.50');
    expect(events[0]!.user_data.em).toEqual([createHash('sha256').update('user1@example.com').digest('hex')]);
    expectNoSecrets(validate.stdout + validate.stderr + preview.stderr);
    expect(pinterest.delivered.size).toBe(0);
  });

  it('delivers every row once, then only new rows; status shows the checkpoint', async () => {
    expect((await cli(['reset', 'conversions'])).code).toBe(0);
    const first = await cli(['run', 'conversions', '--json']);
    // Nothing but the summary: no driver warnings or logs on a user's terminal.
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ processed: total, events_sent: total, rejected_local: 0 });
    expect(delivered()).toEqual(ids(1, total));
    expect(pinterest.duplicates()).toEqual([]);
    expectNoSecrets(first.stdout + first.stderr);

    pinterest.reset();
    await insertMore(50);
    const second = await cli(['run', 'conversions', '--json']);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ processed: 50, events_sent: 50 });
    expect(delivered()).toEqual(ids(total - 49, total));

    const status = JSON.parse((await cli(['status', 'conversions', '--json'])).stdout)[0];
    expect(status.checkpoint.key).toBe(`c${total}`);
    // Microseconds survive the round trip through the checkpoint.
    expect(status.checkpoint.cursor).toMatch(/\.\d{6}/);
    pinterest.reset();
    expect(JSON.parse((await cli(['run', 'conversions', '--json'])).stdout)).toMatchObject({ processed: 0 });
  });

  it('killed mid-run, the next run delivers the rest: every row at least once, again at most what was in flight', async () => {
    expect((await cli(['reset', 'conversions'])).code).toBe(0);
    pinterest.latencyMs = 40;
    const victim = startCli(['run', 'conversions'], { cwd: work, env: env() });
    await pinterest.deliveredAtLeast(400, victim.done);
    victim.child.kill('SIGKILL');
    await victim.done;
    await pinterest.idle();
    pinterest.latencyMs = 0;
    const counts = new Map(pinterest.delivered);
    expect(counts.size).toBeLessThan(total);
    pinterest.delivered.clear();

    const resumed = await cli(['run', 'conversions', '--json']);
    expect(resumed.code).toBe(0);
    for (const [id, n] of pinterest.delivered) counts.set(id, (counts.get(id) ?? 0) + n);
    expect([...counts.keys()].sort()).toEqual(ids(1, total));
    // Two batches of 100 in flight at most when killed.
    expect([...counts].filter(([, n]) => n > 1).length).toBeLessThanOrEqual(200);
    pinterest.reset();
    expect(JSON.parse((await cli(['run', 'conversions', '--json'])).stdout)).toMatchObject({ processed: 0 });
    // The driver writes no log file of its own where the user runs pinsync.
    expect(readdirSync(work).filter((f) => /\.log$/.test(f))).toEqual([]);
  });
});
