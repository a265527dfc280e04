// Failures are reported like any other run: a run that cannot reach its source, or whose state
// fails mid-run, has a record, a --json summary, a webhook and `sync` on every log line; a killed
// run's record shows its counts so far; a run that outlives its stop grace is interrupted.
// The built CLI as subprocesses, real PostgreSQL (warehouse and state), fake Pinterest.
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
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
let hook: Server;
let hookUrl: string;
const received: Record<string, unknown>[] = [];
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
  concurrency: 2
  max_retry_time: 3s
match:
  em: email
mappings:
  event_name: { value: lead }
  action_source: { value: web }
  event_time: created_at
notify:
  webhook: \${HOOK_URL}
${extra}`;

async function tableWith(name: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => nextId++);
  await withClient(dbUrl, async (c) => {
    await c.query(`CREATE TABLE shop.${name} (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, created_at timestamptz, email text)`);
    await c.query(`INSERT INTO shop.${name} SELECT i, now() - interval '2 hours' + i * interval '1 ms', now() - interval '1 hour', 'lead' || i || '@example.com' FROM unnest($1::bigint[]) i`, [ids]);
  });
  return ids.map(String);
}

function dirWith(name: string, text: string): string {
  const dir = mkdtempSync(path.join(root, 'failed-'));
  mkdirSync(path.join(dir, 'syncs'));
  writeFileSync(path.join(dir, 'syncs', `${name}.yaml`), text);
  return dir;
}

const env = (extra: Record<string, string> = {}) => ({
  WAREHOUSE_URL: dbUrl, PINTEREST_API_URL: fake.url, PINTEREST_AD_ACCOUNT_ID: fake.adAccountId,
  PINTEREST_ACCESS_TOKEN: fake.token, PINSYNC_STATE: stateUrl, HOOK_URL: hookUrl, ...extra,
});

const start = (args: string[], cwd: string, extra: Record<string, string> = {}) => startCli(args, { cwd, env: env(extra) });
const until = waitUntil;

const statusOf = async (name: string, cwd: string) => JSON.parse((await runCli(['status', name, '--json'], { cwd, env: env() })).stdout)[0];

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'pinsync-failed-'));
  dbUrl = await freshDatabase('failed_runs_e2e');
  stateUrl = `${dbUrl}?schema=pinsync_state`;
  await withClient(dbUrl, (c) => c.query('CREATE SCHEMA shop'));
  fake = await new FakePinterest().start();
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push(JSON.parse(body));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  await fake.stop();
  hook.close();
  rmSync(root, { recursive: true, force: true });
});
beforeEach(async () => {
  await fake.idle();
  fake.reset();
  received.length = 0;
});

/**
 * `run --json --log-format json` of a sync that fails before reading: exit `code`, a summary on
 * stdout, `sync` on every log line, a failed record in `status`, one webhook; none shows `secret`.
 */
async function expectFailedRun(name: string, extra: Record<string, string>, code: number, error: RegExp, secret?: string): Promise<void> {
  const dir = dirWith(name, sync(name));
  const result = await runCli(['--log-format', 'json', 'run', name, '--json'], { cwd: dir, env: env(extra) });
  expect(result.code).toBe(code);
  const summary = JSON.parse(result.stdout);
  expect(summary).toMatchObject({ sync: name, outcome: 'failed', exit_code: code, rows_read: 0, events_sent: 0 });
  expect(summary.error).toMatch(error);
  expect(typeof summary.run_id).toBe('number');
  const lines = result.stderr.trim().split('\n').map((l) => JSON.parse(l));
  for (const line of lines) expect(line.sync).toBe(name);
  expect(lines.find((l) => l.phase === 'finish')).toMatchObject({ level: 'error', outcome: 'failed', run_id: summary.run_id });
  const status = await statusOf(name, dir);
  expect(status.last_run).toMatchObject({ id: summary.run_id, outcome: 'failed', rows_read: 0 });
  expect(status.last_run.error).toMatch(error);
  expect(Date.parse(status.last_run.ended_at)).toBeGreaterThanOrEqual(Date.parse(status.last_run.started_at));
  expect(received).toHaveLength(1);
  expect(received[0]).toMatchObject({ sync: name, event: 'run_failed', outcome: 'failed', exit_code: code, run_id: summary.run_id });
  expect(fake.requests).toBe(0);
  if (secret) expect(JSON.stringify([result, status, received])).not.toContain(secret);
}

describe('a run that fails before reading', () => {
  it('cannot reach its source: exit 1, a failed record, a summary, the webhook, sync on every log line', async () => {
    const url = `postgres://pinsync:unreachable-secret@127.0.0.1:${await closedPort()}/warehouse`;
    await expectFailedRun('unreachable', { WAREHOUSE_URL: url }, 1, /cannot connect to PostgreSQL/, 'unreachable-secret');
  });

  it('is refused its password: the same, and the password is nowhere', async () => {
    const url = new URL(dbUrl);
    url.password = 'wrong-secret-pw';
    await tableWith('bad_password', 5);
    await expectFailedRun('bad_password', { WAREHOUSE_URL: url.toString() }, 1, /password authentication failed/, 'wrong-secret-pw');
  });

  it('has a source URL that does not parse: a problem at source.url, exit 2, before anything runs (issue 20)', async () => {
    const dir = dirWith('invalid_url', sync('invalid_url'));
    const result = await runCli(['--log-format', 'json', 'run', 'invalid_url', '--json'], { cwd: dir, env: env({ WAREHOUSE_URL: 'postgres://pinsync:bad%%secret@host:notaport/db' }) });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/invalid_url\.yaml:\d+:\d+: source\.url: is not a valid URL: percent-encode special characters/);
    expect(result.stdout + result.stderr).not.toContain('secret');
    expect(fake.requests).toBe(0);
  });

  it('maps a column the source no longer has: exit 2, the problem at file:line:col, recorded and notified', async () => {
    await withClient(dbUrl, (c) => c.query('CREATE TABLE shop.dropped_column (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, email text)'));
    await expectFailedRun('dropped_column', {}, 2, /dropped_column\.yaml:\d+:\d+: mappings\.event_time: .*created_at/);
  });
});

describe('a run whose state fails mid-run', () => {
  it('still prints its summary and calls the webhook, with its record if the state allows', async () => {
    const ids = await tableWith('state_breaks', 1500);
    const dir = dirWith('state_breaks', sync('state_breaks'));
    fake.latencyMs = 60;
    const run = start(['run', 'state_breaks', '--json'], dir);
    // Once a batch is committed (a checkpoint is saved), the checkpoints table goes away under the run.
    const committed = () => withClient(dbUrl, (c) => c.query("SELECT 1 FROM pinsync_state.checkpoints WHERE sync = 'state_breaks' AND \"key\" IS NOT NULL"))
      .then((r) => r.rows.length > 0, () => false); // no state tables yet: nothing committed
    for (let deadline = Date.now() + 20_000; !(await committed());) {
      if (Date.now() > deadline) throw new Error('timed out waiting for a commit');
      await new Promise((r) => setTimeout(r, 20));
    }
    await withClient(dbUrl, (c) => c.query('ALTER TABLE pinsync_state.checkpoints RENAME TO checkpoints_gone'));
    const result = await run.done;
    await withClient(dbUrl, (c) => c.query('ALTER TABLE pinsync_state.checkpoints_gone RENAME TO checkpoints'));
    expect(result.code).toBe(1);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ sync: 'state_breaks', outcome: 'failed', exit_code: 1 });
    expect(summary.error).toMatch(/checkpoints/);
    expect(summary.events_sent).toBeGreaterThan(0);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ sync: 'state_breaks', event: 'run_failed', run_id: summary.run_id });
    const status = await statusOf('state_breaks', dir);
    expect(status.last_run).toMatchObject({ id: summary.run_id, outcome: 'failed', events_sent: summary.events_sent });
    expect(ids.length).toBe(1500);
  });
});

describe('a run that does not end by itself', () => {
  it('SIGKILLed mid-run: its record shows the counts of its last commit, then killed', async () => {
    await tableWith('killed_counts', 2000);
    const dir = dirWith('killed_counts', sync('killed_counts'));
    fake.latencyMs = 80;
    const victim = start(['run', 'killed_counts'], dir);
    await until(() => fake.delivered.size >= 400);
    victim.child.kill('SIGKILL');
    await victim.done;
    const delivered = fake.delivered.size;
    const during = (await statusOf('killed_counts', dir)).last_run;
    expect(during.outcome).toBe('running');
    expect(during.rows_read).toBeGreaterThanOrEqual(during.events_sent);
    expect(during.events_sent).toBeGreaterThan(0);
    expect(during.processed).toBe(during.events_sent);
    expect(during.processed).toBeLessThanOrEqual(delivered);
    fake.latencyMs = 0;
    expect((await runCli(['run', 'killed_counts'], { cwd: dir, env: env() })).code).toBe(0);
    const after = await statusOf('killed_counts', dir);
    expect(after.runs[1]).toMatchObject({ id: during.id, outcome: 'killed', events_sent: during.events_sent, processed: during.processed });
  });

  it('SIGTERMed while a batch hangs past PINSYNC_STOP_GRACE: exit 143, recorded as interrupted', async () => {
    const ids = await tableWith('stuck', 1000);
    const dir = dirWith('stuck', sync('stuck'));
    fake.slowEvents.set(ids[0]!, 4_000);
    const run = start(['--log-format', 'json', 'run', 'stuck', '--json'], dir, { PINSYNC_STOP_GRACE: '1s' });
    await until(() => fake.requests >= 2);
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(result.code).toBe(143);
    const status = await statusOf('stuck', dir);
    expect(status.last_run.outcome).toBe('interrupted');
    expect(status.last_run.error).toMatch(/PINSYNC_STOP_GRACE/);
    expect(JSON.parse(result.stdout)).toMatchObject({ sync: 'stuck', outcome: 'interrupted', exit_code: 143, run_id: status.last_run.id });
    const lines = result.stderr.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.some((l) => l.phase === 'shutdown' && /stop grace/.test(l.error))).toBe(true);
    expect(received).toHaveLength(0);
    // Its lock was given back: the next run starts at once and delivers everything.
    fake.slowEvents.clear();
    expect((await runCli(['run', 'stuck'], { cwd: dir, env: env() })).code).toBe(0);
    expect([...fake.delivered.keys()].sort()).toEqual([...ids].sort());
  });

  it('signalled twice while a batch hangs: exit 130, recorded as interrupted', async () => {
    const ids = await tableWith('stuck_twice', 300);
    const dir = dirWith('stuck_twice', sync('stuck_twice'));
    fake.slowEvents.set(ids[0]!, 4_000);
    const run = start(['run', 'stuck_twice'], dir);
    await until(() => fake.requests >= 1);
    run.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 200));
    run.child.kill('SIGINT');
    expect((await run.done).code).toBe(130);
    expect((await statusOf('stuck_twice', dir)).last_run.outcome).toBe('interrupted');
  });
});
