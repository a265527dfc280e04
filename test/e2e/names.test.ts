// Syncs that share a name would share one checkpoint: run --all, run --due, run A B and schedule
// refuse them (exit 2) before running anything. The built CLI, real PostgreSQL, fake Pinterest.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BIN, type CliResult } from '../helpers/cli.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';
import { freshDatabase, withClient } from '../helpers/pg.js';

let root: string;
let dbUrl: string;
let fake: FakePinterest;

const sync = (table: string, head: string, extra = '') => `version: 1
${head}source:
  type: postgres
  url: \${WAREHOUSE_URL}
  table: shop.${table}
  primary_key: id
  cursor: updated_at
destination:
  ad_account_id: \${PINTEREST_AD_ACCOUNT_ID}
  access_token: \${PINTEREST_ACCESS_TOKEN}
match:
  em: email
mappings:
  event_name: { value: lead }
  action_source: { value: web }
  event_time: created_at
${extra}`;

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(root, 'names-'));
  mkdirSync(path.join(dir, 'syncs'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, 'syncs', name), text);
  return dir;
}

/** The CLI in `cwd`; a command that has not ended after 15 s (a scheduler that started) is stopped. */
function cli(args: string[], cwd: string): Promise<CliResult> {
  const env = {
    ...process.env, WAREHOUSE_URL: dbUrl, PINTEREST_API_URL: fake.url, PINTEREST_AD_ACCOUNT_ID: fake.adAccountId,
    PINTEREST_ACCESS_TOKEN: fake.token, PINSYNC_STATE: path.join(cwd, 'state.db'),
  };
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  return new Promise((resolve) => child.on('close', (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr });
  }));
}

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'pinsync-names-'));
  dbUrl = await freshDatabase('names_e2e');
  await withClient(dbUrl, async (c) => {
    await c.query('CREATE SCHEMA shop');
    for (const table of ['first', 'second']) {
      await c.query(`CREATE TABLE shop.${table} (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, created_at timestamptz, email text)`);
      await c.query(`INSERT INTO shop.${table} SELECT i, now() - interval '1 hour', now() - interval '1 hour', 'x' || i || '@example.com' FROM generate_series(1, 20) i`);
    }
  });
  fake = await new FakePinterest().start();
});
afterAll(async () => {
  await fake.stop();
  rmSync(root, { recursive: true, force: true });
});
beforeEach(() => fake.reset());

/** Exit 2, one line naming both files and the name, nothing sent. */
function expectRefused(result: CliResult, name: string, files: [string, string]): void {
  expect(result.code).toBe(2);
  const clashLines = result.stderr.split('\n').filter((l) => l.includes(`sync name '${name}'`));
  expect(clashLines).toHaveLength(1);
  const line = clashLines[0];
  expect(line).toContain(path.join('syncs', files[0]));
  expect(line).toContain(path.join('syncs', files[1]));
  expect(fake.requests).toBe(0);
}

describe('syncs that share a name', () => {
  it('run --all refuses two files with the same name:', async () => {
    const dir = dirWith({ 'a.yaml': sync('first', 'name: shop\n'), 'b.yaml': sync('second', 'name: shop\n') });
    expectRefused(await cli(['run', '--all'], dir), 'shop', ['b.yaml', 'a.yaml']);
  });

  it('run --due refuses a name: that is also another file\'s name', async () => {
    const daily = 'schedule: "0 3 * * *"\n';
    const dir = dirWith({ 'a.yaml': sync('first', 'name: orders\n', daily), 'orders.yaml': sync('second', '', daily) });
    expectRefused(await cli(['run', '--due'], dir), 'orders', ['orders.yaml', 'a.yaml']);
  });

  it('run A B refuses two named files with one sync name, in JSON logs too', async () => {
    const dir = dirWith({ 'a.yaml': sync('first', 'name: shop\n'), 'b.yaml': sync('second', 'name: shop\n') });
    const result = await cli(['--log-format', 'json', 'run', 'syncs/a.yaml', 'syncs/b.yaml'], dir);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([expect.objectContaining({ sync: 'shop', phase: 'config', level: 'error' })]);
    expect(lines[0].error).toMatch(/b\.yaml:\d+:\d+: name: sync name 'shop' is also the name of syncs\/a\.yaml/);
    expect(fake.requests).toBe(0);
    // One file named twice is one sync, run once.
    const alone = dirWith({ 'a.yaml': sync('first', 'name: shop\n') });
    expect((await cli(['run', 'syncs/a.yaml', 'a'], alone)).code).toBe(0);
    expect(fake.delivered.size).toBe(20);
  });

  it('run A alone refuses when another file in the syncs folder has its name (two cron lines would share a checkpoint)', async () => {
    const dir = dirWith({ 'a.yaml': sync('first', 'name: shop\n'), 'b.yaml': sync('second', 'name: shop\n'), 'c.yaml': sync('second', 'name: other\n') });
    expectRefused(await cli(['run', 'a'], dir), 'shop', ['b.yaml', 'a.yaml']);
    // A file whose name nobody else has still runs.
    expect((await cli(['run', 'c'], dir)).code).toBe(0);
  });

  it('schedule refuses to start', async () => {
    const everySecond = 'schedule: "* * * * * *"\n';
    const dir = dirWith({ 'a.yaml': sync('first', 'name: shop\n', everySecond), 'b.yaml': sync('second', 'name: shop\n') });
    const result = await cli(['schedule'], dir);
    expectRefused(result, 'shop', ['b.yaml', 'a.yaml']);
    expect(result.stderr).toContain('the scheduler starts only when every sync file is valid');
  });
});
