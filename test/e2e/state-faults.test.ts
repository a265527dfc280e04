// The state store failing under the built CLI: a damaged SQLite file, a PostgreSQL role
// without rights, an unreachable server, a URL of a store pinsync does not have, a key
// PostgreSQL text cannot hold, and the state file removed while a run writes to it.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli, type CliResult } from '../helpers/cli.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';
import { freshDatabase, withClient } from '../helpers/pg.js';

let work: string;
let fake: FakePinterest;
let dbUrl: string;

const ROWS = 40;
const csvLines = () => {
  const created = new Date(Date.now() - 3600_000).toISOString();
  return ['lead_id,email,created', ...Array.from({ length: ROWS }, (_, i) => `L${String(i + 1).padStart(3, '0')},lead${i + 1}@example.org,${created}`)];
};

const syncYaml = (name: string, source: string, batch = 10) => `version: 1
name: ${name}
source:
  type: duckdb
${source}
destination:
  ad_account_id: \${PINTEREST_AD_ACCOUNT_ID}
  access_token: \${PINTEREST_ACCESS_TOKEN}
  batch_size: ${batch}
  concurrency: 1
  max_retry_time: 1s
match:
  em: email
mappings:
  event_name: { value: lead }
  action_source: { value: offline }
  event_time: created
`;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'pinsync-statefaults-'));
  mkdirSync(path.join(work, 'syncs', 'data'), { recursive: true });
  writeFileSync(path.join(work, 'syncs', 'data', 'leads.csv'), `${csvLines().join('\n')}\n`);
  writeFileSync(path.join(work, 'syncs', 'leads.yaml'), syncYaml('leads', `  query: SELECT * FROM read_csv('data/leads.csv')
  primary_key: lead_id`));
  fake = await new FakePinterest().start();
  dbUrl = await freshDatabase('pinsync_state_faults');
});

afterAll(async () => {
  await fake.stop();
  rmSync(work, { recursive: true, force: true });
});

const env = (state: string): Record<string, string> => ({
  PINTEREST_API_URL: fake.url, PINTEREST_AD_ACCOUNT_ID: fake.adAccountId, PINTEREST_ACCESS_TOKEN: fake.token, PINSYNC_STATE: state,
});

/** The CLI, killed if it has not exited after `limitMs`: a process that hangs fails the test. */
function runBounded(args: string[], state: string, limitMs = 15_000): Promise<CliResult & { killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: work, env: { ...process.env, PINTEREST_AD_ACCOUNT_ID: undefined, PINTEREST_ACCESS_TOKEN: undefined, ...env(state) },
    });
    let stdout = '';
    let stderr = '';
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, killed });
    });
  });
}

/** stdout of a --json command: empty, or JSON and nothing else. */
function expectJsonOrNothing(stdout: string): void {
  if (stdout.trim() === '') return;
  expect(() => JSON.parse(stdout), stdout).not.toThrow();
}

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

/** A failure to open the state: exit 1, soon, one line on stderr. */
function expectStateFailure(result: CliResult & { killed: boolean }, where: RegExp | string): void {
  expect(result.killed, `still running after 15 s; stderr: ${result.stderr}`).toBe(false);
  expect(result.code, result.stderr).toBe(1);
  expect(lines(result.stderr), result.stderr).toHaveLength(1);
  expect(result.stderr).toMatch(/^pinsync: (\S+: )?(cannot open the state store at |the state store at \S+ failed: )/);
  if (typeof where === 'string') expect(result.stderr).toContain(where);
  else expect(result.stderr).toMatch(where);
}

describe('a damaged SQLite state file', () => {
  const damage: Record<string, (bytes: Buffer) => Buffer | string> = {
    // Every page but the first (the schema) overwritten with garbage.
    'pages overwritten': (bytes) => {
      const out = Buffer.from(bytes);
      for (let i = 4096; i < out.length - 4096; i++) out[i] = (i * 7) & 255;
      return out;
    },
    truncated: (bytes) => bytes.subarray(0, Math.floor(bytes.length / 3)),
    'a text file': () => 'this is not a database\n'.repeat(200),
    // Only the checkpoints table: the state opens, and fails when used.
    'checkpoints table overwritten': (bytes) => {
      const db = new Database(path.join(work, 'good.db'), { readonly: true });
      const { rootpage } = db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'checkpoints'").get() as { rootpage: number };
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      db.close();
      const out = Buffer.from(bytes);
      for (let i = (rootpage - 1) * pageSize; i < rootpage * pageSize; i++) out[i] = (i * 7) & 255;
      return out;
    },
  };

  it('is reported in one line by run, status, reset and preview, which exit 1 at once', async () => {
    const good = path.join(work, 'good.db');
    const first = await runCli(['run', 'leads'], { cwd: work, env: env(good) });
    expect(first.code, first.stderr).toBe(0);
    expect(existsSync(`${good}-wal`)).toBe(false);
    const bytes = readFileSync(good);
    for (const [how, damaged] of Object.entries(damage)) {
      const file = path.join(work, `damaged-${how.replace(/ /g, '-')}.db`);
      writeFileSync(file, damaged(bytes));
      // One after another: run and reset side by side would race for the sync's lock.
      const results = [];
      for (const args of [['run', 'leads', '--json'], ['status', '--json'], ['reset', 'leads'], ['preview', 'leads']]) results.push(await runBounded(args, file));
      for (const result of results) {
        expectStateFailure(result, file);
        expect(result.stderr).toMatch(/(malformed|not a database) \(the file is damaged or is not a pinsync state/);
        expectJsonOrNothing(result.stdout);
      }
    }
  }, 60_000);
});

describe('PostgreSQL state', () => {
  const password = 'Secret-pw-9000';
  const roleUrl = (role: string) => {
    const url = new URL(dbUrl);
    url.username = role;
    url.password = password;
    return url.toString();
  };

  it('that a role may not use fails at once, in one line without the password', async () => {
    const database = new URL(dbUrl).pathname.slice(1);
    // A role that may not create the schema; one that finds it made, without rights on its
    // tables; one given a schema of its own, which needs no CREATE on the database.
    await withClient(dbUrl, async (c) => {
      for (const role of ['pinsync_nocreate', 'pinsync_notables', 'pinsync_ownschema']) {
        await c.query(`DROP ROLE IF EXISTS ${role}`);
        await c.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
      }
      await c.query(`REVOKE CREATE ON DATABASE ${database} FROM PUBLIC`);
      await c.query('CREATE SCHEMA IF NOT EXISTS owned');
      await c.query('GRANT USAGE ON SCHEMA owned TO pinsync_notables');
      await c.query('CREATE SCHEMA IF NOT EXISTS given');
      await c.query('GRANT USAGE, CREATE ON SCHEMA given TO pinsync_ownschema');
    });
    const given = new URL(roleUrl('pinsync_ownschema'));
    given.searchParams.set('schema', 'given');
    const allowed = await runCli(['status', '--json'], { cwd: work, env: env(given.toString()) });
    expect(allowed.code, allowed.stderr).toBe(0);
    const owner = new URL(dbUrl);
    owner.searchParams.set('schema', 'owned');
    // The owner writes the state once (its tables are made); status only reads it.
    expect((await runCli(['reset', 'leads'], { cwd: work, env: env(owner.toString()) })).code).toBe(0);
    const noTables = new URL(roleUrl('pinsync_notables'));
    noTables.searchParams.set('schema', 'owned');
    // A state nobody has written yet has nothing for status to read: only writing fails there.
    const commands = { pinsync_nocreate: [['run', 'leads', '--json'], ['reset', 'leads']], pinsync_notables: [['run', 'leads', '--json'], ['status', '--json'], ['reset', 'leads']] };
    for (const [state, role] of [[roleUrl('pinsync_nocreate'), 'pinsync_nocreate'], [noTables.toString(), 'pinsync_notables']] as const) {
      const results = await Promise.all(commands[role].map((args) => runBounded(args, state)));
      for (const result of results) {
        expectStateFailure(result, `postgres://${role}@`);
        expect(result.stderr).toContain('permission denied');
        expect(result.stderr + result.stdout).not.toContain(password);
        expectJsonOrNothing(result.stdout);
      }
    }
  }, 60_000);

  it('that cannot be reached prints nothing but the contract on stdout', async () => {
    const url = new URL(dbUrl);
    url.port = '1';
    url.password = password;
    for (const args of [['run', 'leads', '--json'], ['status', '--json']]) {
      const result = await runBounded(args, url.toString());
      // knex used to log each failed attempt here, with its stack, on stdout.
      expect(result.stdout).toBe('');
      expectStateFailure(result, 'postgres://postgres@127.0.0.1:1/');
      expect(result.stderr).not.toContain(password);
    }
  });

  it('whose server never answers gives up after connect_timeout', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const state = `postgres://postgres:${password}@127.0.0.1:${(silent.address() as AddressInfo).port}/state?connect_timeout=1`;
      const results = await Promise.all([runBounded(['run', 'leads', '--json'], state), runBounded(['status', '--json'], state)]);
      for (const result of results) {
        expect(result.stdout).toBe('');
        expectStateFailure(result, 'did not answer in time');
      }
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});

describe('a primary key holding text PostgreSQL cannot store (a NUL)', () => {
  // Every even row's key ends in NUL + 'x'; all rows share the cursor value, so the key breaks
  // the tie and a checkpoint after row 20 ends in a NUL. L039 has no email: a local reject.
  const source = `  query: >-
    SELECT CASE WHEN right(lead_id, 1) IN ('0', '2', '4', '6', '8') OR lead_id = 'L039' THEN lead_id || chr(0) || 'x' ELSE lead_id END AS lead_id,
      CASE WHEN lead_id = 'L039' THEN NULL ELSE email END AS email, created, TIMESTAMP '2026-01-01 00:00:00' AS stamp
    FROM read_csv('data/leads.csv')
  primary_key: lead_id
  cursor: stamp`;

  it.each(['postgres', 'sqlite'])('is stored safely in %s state: every event once, the sync advances', async (kind) => {
    const name = `nul_${kind}`;
    writeFileSync(path.join(work, 'syncs', `${name}.yaml`), syncYaml(name, source));
    const stateUrl = new URL(dbUrl);
    stateUrl.searchParams.set('schema', 'nulkeys');
    const state = kind === 'postgres' ? stateUrl.toString() : path.join(work, 'nulkeys.db');
    fake.reset();
    // The run fails after two batches: its checkpoint is the 20th row, whose key holds a NUL.
    fake.failAfterRequests = 2;
    const failed = await runCli(['run', name, '--json'], { cwd: work, env: env(state) });
    expect(failed.code, failed.stderr).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({ processed: 20, checkpoint: { key: 'L020\u0000x' } });
    fake.failAfterRequests = undefined;
    const resumed = await runCli(['run', name, '--json'], { cwd: work, env: env(state) });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ rows_read: 20, processed: 19, rejected_local: 1, checkpoint: { key: 'L040\u0000x' } });
    expect(fake.delivered.size).toBe(ROWS - 1);
    expect(fake.delivered.has('L020\u0000x')).toBe(true);
    expect(fake.duplicates()).toEqual([]);
    const status = await runCli(['status', name, '--json'], { cwd: work, env: env(state) });
    expect(status.code, status.stderr).toBe(0);
    const [report] = JSON.parse(status.stdout);
    expect(report.checkpoint).toMatchObject({ key: 'L040\u0000x' });
    // Rejects name the row readably: the NUL written as an escape.
    expect(report.last_run_rejects).toMatchObject([{ primary_key: 'L039\\u0000x', stage: 'local' }]);
    const idle = await runCli(['run', name, '--json'], { cwd: work, env: env(state) });
    expect(idle.code, idle.stderr).toBe(0);
    expect(JSON.parse(idle.stdout)).toMatchObject({ rows_read: 0, checkpoint: { key: 'L040\u0000x' } });
    expect(fake.duplicates()).toEqual([]);
  });
});

describe('--state', () => {
  it('refuses a URL of a store pinsync does not have, and creates nothing', async () => {
    for (const [how, state] of [['option', 'mysql://user:Secret-pw-9000@db.example/state'], ['env', 'sqlite3://x']] as const) {
      const args = how === 'option' ? ['--state', state, 'status'] : ['status'];
      const result = await runCli(args, { cwd: work, env: how === 'option' ? env('unused.db') : env(state) });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(how === 'option' ? '--state' : 'PINSYNC_STATE');
      expect(result.stderr).toContain('postgres://');
      expect(result.stderr).not.toContain('Secret-pw-9000');
    }
    expect(existsSync(path.join(work, 'mysql:'))).toBe(false);
    expect(existsSync(path.join(work, 'sqlite3:'))).toBe(false);
  });

  it('takes a path with a colon in it as a path', async () => {
    const result = await runCli(['--state', './odd:name.db', 'run', 'leads'], { cwd: work, env: env('unused.db') });
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(path.join(work, 'odd:name.db'))).toBe(true);
    expect((await runCli(['--state', './odd:name.db', 'status', 'leads', '--json'], { cwd: work, env: env('unused.db') })).stdout).toContain('"outcome": "succeeded"');
  });
});

describe('the state file removed or replaced while a run writes to it', () => {
  it.each(['removed', 'replaced'])('when %s, fails the run, saying what the next one resends', async (how) => {
    const state = path.join(work, `${how}.db`);
    fake.reset();
    fake.latencyMs = 150;
    const child = spawn(process.execPath, [BIN, 'run', 'leads', '--json'], { cwd: work, env: { ...process.env, ...env(state) } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await fake.deliveredAtLeast(10, exited);
    if (how === 'removed') {
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${state}${suffix}`, { force: true });
    } else {
      // As a restore from a copy would: a new file renamed over the old one.
      writeFileSync(`${state}.new`, readFileSync(state));
      renameSync(`${state}.new`, state);
    }
    expect(await exited, stderr).toBe(1);
    expect(stderr).toContain(`the state file ${state} was ${how} while pinsync had it open`);
    expect(stderr).toContain(how === 'removed' ? 'the next pinsync run sends every row again' : 'sends again at least what this run delivered');
    // Reported as a failed run, like any other.
    expect(JSON.parse(stdout)).toMatchObject({ sync: 'leads', outcome: 'failed', exit_code: 1, error: expect.stringContaining(`was ${how}`) });
    fake.latencyMs = 0;
  });
});
