// Unattended operation: shared PostgreSQL state, run locks, run --due, the scheduler, JSON
// logs and webhooks. The built CLI as subprocesses, real PostgreSQL, fake Pinterest.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, startCli, waitUntil } from '../helpers/cli.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';
import { freshDatabase, withClient } from '../helpers/pg.js';

let root: string;
let dbUrl: string;
let stateUrl: string;
let fake: FakePinterest;
let nextId = 1;

const sync = (name: string, extra = '') => `version: 1
name: ${name}
source:
  type: postgres
  url: \${WAREHOUSE_URL}
  table: shop.${name}
  primary_key: id
  cursor: updated_at
destination:
  ad_account_id: \${PINTEREST_AD_ACCOUNT_ID}
  access_token: \${PINTEREST_ACCESS_TOKEN}
  batch_size: 100
  concurrency: 4
  max_retry_time: 3s
match:
  em: email
mappings:
  event_name: { value: lead }
  action_source: { value: web }
  event_time: created_at
${extra}`;

async function createTable(name: string): Promise<void> {
  await withClient(dbUrl, (c) => c.query(`CREATE TABLE shop.${name} (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, created_at timestamptz, email text)`));
}

async function addRows(table: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => nextId++);
  await withClient(dbUrl, (c) => c.query(
    `INSERT INTO shop.${table} SELECT i, clock_timestamp(), now() - interval '1 hour', 'lead' || i || '@example.com' FROM unnest($1::bigint[]) i`, [ids],
  ));
  return ids.map(String);
}

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(root, 'runner-'));
  mkdirSync(path.join(dir, 'syncs'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, 'syncs', name), text);
  return dir;
}

const env = (extra: Record<string, string> = {}) => ({
  WAREHOUSE_URL: dbUrl, PINTEREST_API_URL: fake.url, PINTEREST_AD_ACCOUNT_ID: fake.adAccountId,
  PINTEREST_ACCESS_TOKEN: fake.token, PINSYNC_STATE: stateUrl, ...extra,
});

const start = (args: string[], cwd: string, extra: Record<string, string> = {}) => startCli(args, { cwd, env: env(extra) });
const until = waitUntil;

const statusOf = async (name: string, cwd: string) => JSON.parse((await runCli(['status', name, '--json'], { cwd, env: env() })).stdout)[0];

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'pinsync-unattended-'));
  dbUrl = await freshDatabase('unattended_e2e');
  stateUrl = `${dbUrl}?schema=pinsync_state`;
  await withClient(dbUrl, (c) => c.query('CREATE SCHEMA shop'));
  fake = await new FakePinterest().start();
});
afterAll(async () => {
  await fake.stop();
  rmSync(root, { recursive: true, force: true });
});
beforeEach(async () => {
  await fake.idle();
  fake.reset();
});

describe('shared state in PostgreSQL', () => {
  it('lets a runner in another working directory continue where the first stopped', async () => {
    await createTable('shared');
    const first = dirWith({ 'shared.yaml': sync('shared') });
    const second = dirWith({ 'shared.yaml': sync('shared') });
    const old = await addRows('shared', 250);
    expect((await runCli(['run', 'shared'], { cwd: first, env: env() })).code).toBe(0);
    expect([...fake.delivered.keys()].sort()).toEqual(old.sort());
    const fresh = await addRows('shared', 40);
    fake.delivered.clear();
    const result = await runCli(['run', 'shared', '--json'], { cwd: second, env: env() });
    expect(result.code).toBe(0);
    expect([...fake.delivered.keys()].sort()).toEqual(fresh.sort());
    // The state is in its own schema of the warehouse database.
    await withClient(dbUrl, async (c) => {
      expect((await c.query("SELECT count(*)::int AS n FROM pinsync_state.runs WHERE sync = 'shared'")).rows[0].n).toBe(2);
    });
  });
});

describe('one run per sync', () => {
  it('refuses a second run started together (exit 4, naming the holder); nothing is doubled', async () => {
    await createTable('together');
    const dir = dirWith({ 'together.yaml': sync('together') });
    const ids = await addRows('together', 1500);
    fake.latencyMs = 80;
    const a = start(['run', 'together'], dir);
    const b = start(['run', 'together'], dir);
    const results = await Promise.all([a.done, b.done]);
    expect(results.map((r) => r.code).sort()).toEqual([0, 4]);
    const refused = results.find((r) => r.code === 4)!;
    expect(refused.stderr).toMatch(/sync together is already running \(pid \d+ on .+, since \d{4}-\d\d-\d\dT.*\); this run did nothing/);
    expect([...fake.delivered.keys()].sort()).toEqual(ids.sort());
    expect(fake.duplicates()).toEqual([]);
  });

  it('refuses with a SQLite state file too', async () => {
    await createTable('together_sqlite');
    const dir = dirWith({ 'together_sqlite.yaml': sync('together_sqlite') });
    await addRows('together_sqlite', 2000);
    // 20 batches, 4 at a time, 1 s each: the first run holds the lock for about 5 s after its first request.
    fake.latencyMs = 1000;
    const local = { PINSYNC_STATE: path.join(dir, 'state.db') };
    const a = start(['run', 'together_sqlite'], dir, local);
    await until(() => fake.requests > 0);
    const b = await runCli(['run', 'together_sqlite'], { cwd: dir, env: env(local) });
    expect(b.code).toBe(4);
    const done = await a.done;
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);
    expect(fake.delivered.size).toBe(2000);
  });

  it('takes over the lock of a killed run at once, and marks that run killed', async () => {
    await createTable('killed');
    const dir = dirWith({ 'killed.yaml': sync('killed') });
    const ids = await addRows('killed', 2000);
    fake.latencyMs = 100;
    const victim = start(['run', 'killed'], dir);
    await until(() => fake.delivered.size >= 300);
    victim.child.kill('SIGKILL');
    await victim.done;
    fake.latencyMs = 0;
    const next = await runCli(['run', 'killed', '--json'], { cwd: dir, env: env() });
    expect(next.code).toBe(0);
    expect([...fake.delivered.keys()].sort()).toEqual(ids.sort());
    const status = await statusOf('killed', dir);
    expect(status.runs.map((r: { outcome: string }) => r.outcome)).toEqual(['succeeded', 'killed']);
  });

  it('waits out a lease held on another host until it expires', async () => {
    await createTable('leased');
    const dir = dirWith({ 'leased.yaml': sync('leased') });
    await addRows('leased', 10);
    // Make sure the lock table exists, then plant another host's lease.
    await runCli(['status', 'leased'], { cwd: dir, env: env() });
    const plant = (expires: number) => withClient(dbUrl, (c) => c.query(
      `INSERT INTO pinsync_state.locks (sync, token, host, scope, pid, started_at, expires_at) VALUES ('leased', 't', 'other-host', 'other-host pid:[1]', 4242, $1, $2)
       ON CONFLICT (sync) DO UPDATE SET expires_at = excluded.expires_at`, [Date.now() - 1000, expires],
    ));
    await plant(Date.now() + 60_000);
    const refused = await runCli(['run', 'leased'], { cwd: dir, env: env() });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('pid 4242 on other-host');
    await plant(Date.now() - 1);
    expect((await runCli(['run', 'leased'], { cwd: dir, env: env() })).code).toBe(0);
    expect(fake.delivered.size).toBe(10);
  });

  it('keeps the events beyond the checkpoint to the batches in flight when one batch is slow', async () => {
    await createTable('slow');
    const dir = dirWith({ 'slow.yaml': sync('slow') });
    const ids = await addRows('slow', 3000);
    fake.slowEvents.set(ids[0]!, 5_000);
    const run = start(['run', 'slow'], dir);
    await new Promise((r) => setTimeout(r, 2_000));
    // The first batch is still being answered; at most three more may have gone out.
    expect(fake.delivered.size).toBeLessThanOrEqual(300);
    run.child.kill('SIGKILL');
    await run.done;
    fake.slowEvents.clear();
    const next = JSON.parse((await runCli(['run', 'slow', '--json'], { cwd: dir, env: env() })).stdout);
    expect(next.resent).toBeLessThanOrEqual(400);
    expect(next.resent).toBeGreaterThanOrEqual(fake.duplicates().length);
    expect([...fake.delivered.keys()].sort()).toEqual(ids.sort());
  });
});

describe('run --due', () => {
  it('runs exactly the syncs whose schedule is due', async () => {
    for (const name of ['due_never_ran', 'due_ran_recently', 'due_unscheduled']) await createTable(name);
    const dir = dirWith({
      'a.yaml': sync('due_never_ran', 'schedule: "0 3 * * *"\n'),
      'b.yaml': sync('due_ran_recently', 'schedule: "0 0 1 1 *"\n'),
      'c.yaml': sync('due_unscheduled'),
    });
    const a = await addRows('due_never_ran', 5);
    await addRows('due_ran_recently', 5);
    await addRows('due_unscheduled', 5);
    expect((await runCli(['run', 'due_ran_recently'], { cwd: dir, env: env() })).code).toBe(0);
    const b2 = await addRows('due_ran_recently', 5);
    fake.delivered.clear();
    const due = await runCli(['run', '--due', '--parallel', '2', '--json'], { cwd: dir, env: env() });
    expect(due.code).toBe(0);
    expect(due.stdout.trim().split('\n').map((l) => JSON.parse(l).sync)).toEqual(['due_never_ran']);
    expect([...fake.delivered.keys()].sort()).toEqual(a.sort());
    expect(b2.some((id) => fake.delivered.has(id))).toBe(false);
    const all = JSON.parse((await runCli(['status', '--json'], { cwd: dir, env: env() })).stdout) as { sync: string; schedule: { due: boolean } | null }[];
    expect(all.find((s) => s.sync === 'due_never_ran')!.schedule!.due).toBe(false);
    expect(all.find((s) => s.sync === 'due_unscheduled')!.schedule).toBeNull();
  });
});

describe('pinsync schedule', () => {
  it('fires a sync on its schedule and, on SIGTERM, settles what is in flight and exits 0', async () => {
    await createTable('scheduled');
    const dir = dirWith({ 'scheduled.yaml': sync('scheduled', 'schedule: "* * * * * *"\n') });
    const ids = await addRows('scheduled', 3000);
    fake.latencyMs = 150;
    const scheduler = start(['schedule', '--log-format', 'json'], dir);
    await until(() => fake.delivered.size >= 400);
    scheduler.child.kill('SIGTERM');
    const result = await scheduler.done;
    expect(result.code).toBe(0);
    const logs = result.stderr.trim().split('\n').map((l) => JSON.parse(l));
    expect(logs.some((l) => l.phase === 'shutdown')).toBe(true);
    const finish = logs.find((l) => l.phase === 'finish');
    expect(finish).toMatchObject({ sync: 'scheduled', outcome: 'interrupted' });
    const status = await statusOf('scheduled', dir);
    expect(status.runs[0].outcome).toBe('interrupted');
    // Everything sent was settled before exit: the checkpoint covers exactly what arrived.
    expect(status.runs[0].processed).toBe(fake.delivered.size);
    fake.latencyMs = 0;
    const rest = JSON.parse((await runCli(['run', 'scheduled', '--json'], { cwd: dir, env: env() })).stdout);
    expect(rest.resent).toBe(0);
    expect([...fake.delivered.keys()].sort()).toEqual(ids.sort());
    expect(fake.duplicates()).toEqual([]);
  });
});

describe('observability', () => {
  it('logs one JSON object per line with stable fields, never the token', async () => {
    await createTable('logged');
    const dir = dirWith({ 'logged.yaml': sync('logged') });
    await addRows('logged', 120);
    const result = await runCli(['--log-format', 'json', 'run', 'logged'], { cwd: dir, env: env() });
    expect(result.code).toBe(0);
    const lines = result.stderr.trim().split('\n').map((l) => JSON.parse(l));
    const finish = lines.find((l) => l.phase === 'finish');
    expect(finish).toMatchObject({ level: 'info', sync: 'logged', outcome: 'succeeded', counts: { rows_read: 120, processed: 120 } });
    expect(typeof finish.run_id).toBe('number');
    expect(typeof finish.duration_ms).toBe('number');
    expect(result.stderr + result.stdout).not.toContain(fake.token);
  });

  it('posts a summary to notify.webhook when a run fails, without secrets', async () => {
    const received: string[] = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push(body);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    await createTable('hooked');
    const dir = dirWith({ 'hooked.yaml': sync('hooked', 'notify:\n  webhook: ${HOOK_URL}\n') });
    await addRows('hooked', 5);
    const failed = await runCli(['run', 'hooked'], { cwd: dir, env: env({ HOOK_URL: url, PINTEREST_ACCESS_TOKEN: 'pina_wrong_secret' }) });
    expect(failed.code).toBe(1);
    expect(received).toHaveLength(1);
    const notice = JSON.parse(received[0]!);
    expect(notice).toMatchObject({ sync: 'hooked', event: 'run_failed', outcome: 'failed', exit_code: 1 });
    expect(notice.error).toMatch(/refused the access token/);
    expect(received[0]).not.toContain('pina_wrong_secret');
    expect((await runCli(['run', 'hooked'], { cwd: dir, env: env({ HOOK_URL: url }) })).code).toBe(0);
    expect(received).toHaveLength(1);
    hook.close();
  });
});

