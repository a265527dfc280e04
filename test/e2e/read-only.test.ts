// A sync file can only read: a source query that closes the subquery it is wrapped in, or
// writes, is refused before anything runs (exit 2, at source.query's line), by validate
// --connect, preview and run alike. CI validates sync files from pull requests with warehouse
// credentials, so these are hostile files, not mistakes.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';
import { freshDatabase, withClient } from '../helpers/pg.js';

let work: string;
let dbUrl: string;
let fake: FakePinterest;

/** A sync file whose source.query (line 5) is `query`, as a YAML block. */
const syncFile = (type: 'postgres' | 'duckdb', query: string) => `version: 1
source:
  type: ${type}
${type === 'postgres' ? '  url: ${WAREHOUSE_URL}' : '  # an in-memory database: the query reads files'}
  query: |
${query.split('\n').map((l) => `    ${l}`).join('\n')}
  primary_key: id
destination:
  ad_account_id: \${PINTEREST_AD_ACCOUNT_ID}
  access_token: \${PINTEREST_ACCESS_TOKEN}
  max_retry_time: 2s
match:
  em: email
mappings:
  event_name: { value: checkout }
  action_source: { value: offline }
  event_time: ts
`;

beforeAll(async () => {
  dbUrl = await freshDatabase('read_only_e2e');
  await withClient(dbUrl, async (c) => {
    await c.query('CREATE TABLE victim (id int PRIMARY KEY, note text)');
    await c.query("INSERT INTO victim VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    await c.query("CREATE TABLE orders AS SELECT i AS id, 'u' || i || '@example.com' AS email, now() - interval '1 hour' AS ts FROM generate_series(1, 5) i");
    // A function that writes, as a warehouse may already hold: a SELECT calling it must not write.
    await c.query("CREATE FUNCTION wipe_victim() RETURNS int LANGUAGE sql AS 'DELETE FROM victim RETURNING 1'");
  });
  fake = await new FakePinterest().start();
  work = mkdtempSync(path.join(tmpdir(), 'pinsync-read-only-'));
  // The server may run as another user (embedded PostgreSQL under root): it must be able to write here, were it asked to.
  chmodSync(work, 0o777);
  mkdirSync(path.join(work, 'syncs'));
});

afterAll(async () => {
  await fake.stop();
  rmSync(work, { recursive: true, force: true });
});

const env = () => ({
  WAREHOUSE_URL: dbUrl, PINTEREST_API_URL: fake.url, PINTEREST_AD_ACCOUNT_ID: fake.adAccountId, PINTEREST_ACCESS_TOKEN: fake.token,
  PINSYNC_STATE: path.join(work, 'state.db'),
});

async function victim(): Promise<unknown[]> {
  return withClient(dbUrl, async (c) => (await c.query('SELECT id, note FROM victim ORDER BY id')).rows);
}

const COMMANDS = [['validate', '--connect'], ['preview'], ['run']] as const;

/** Each command refuses the sync with exit 2, naming the file and source.query's line; nothing reaches Pinterest. */
async function expectRefused(name: string, message: RegExp): Promise<void> {
  const file = path.join(work, 'syncs', `${name}.yaml`);
  for (const command of COMMANDS) {
    const args = command[0] === 'validate' ? [...command, file] : [...command, name];
    const result = await runCli(args, { cwd: work, env: env() });
    const output = `${command.join(' ')}: ${result.stdout}${result.stderr}`;
    expect(result.code, output).toBe(2);
    expect(result.stderr, output).toContain(`${name}.yaml:5:`);
    expect(result.stderr, output).toMatch(message);
  }
  expect(fake.delivered.size).toBe(0);
}

const VICTIM = [{ id: 1, note: 'a' }, { id: 2, note: 'b' }, { id: 3, note: 'c' }];

describe('a PostgreSQL source query', () => {
  it('cannot close its parenthesis and run more statements', async () => {
    writeFileSync(path.join(work, 'syncs', 'drop.yaml'), syncFile('postgres', 'SELECT 1 AS id) AS x; DROP TABLE victim; SELECT * FROM (SELECT 1 AS id'));
    await expectRefused('drop', /source\.query: the query holds more than one statement/);
    expect(await victim()).toEqual(VICTIM);
  });

  it('cannot run COPY ... TO PROGRAM', async () => {
    const marker = path.join(work, 'copied');
    writeFileSync(path.join(work, 'syncs', 'program.yaml'), syncFile('postgres',
      `SELECT 1 AS id) AS x; COPY (SELECT 1) TO PROGRAM 'touch ${marker}'; SELECT * FROM (SELECT 1 AS id`));
    await expectRefused('program', /more than one statement/);
    expect(existsSync(marker)).toBe(false);
  });

  it('cannot COMMIT its way out of a read-only transaction', async () => {
    writeFileSync(path.join(work, 'syncs', 'commit.yaml'), syncFile('postgres', 'SELECT 1 AS id) AS x; COMMIT; DELETE FROM victim; SELECT * FROM (SELECT 1 AS id'));
    await expectRefused('commit', /more than one statement/);
    expect(await victim()).toEqual(VICTIM);
  });

  it('cannot write through a data-modifying WITH', async () => {
    writeFileSync(path.join(work, 'syncs', 'cte.yaml'), syncFile('postgres', 'WITH d AS (DELETE FROM victim RETURNING *) SELECT d.id, d.note AS email, now() AS ts FROM d'));
    await expectRefused('cte', /source\.query: the query tries to write/);
    expect(await victim()).toEqual(VICTIM);
  });

  it('cannot write through a function it calls: every query runs READ ONLY', async () => {
    writeFileSync(path.join(work, 'syncs', 'function.yaml'), syncFile('postgres', 'SELECT o.id, o.email, o.ts, wipe_victim() AS wiped FROM orders o'));
    await expectRefused('function', /the query tries to write \(cannot execute DELETE in a read-only transaction\)/);
    expect(await victim()).toEqual(VICTIM);
  });

  it('cannot write once the sync has a checkpoint: the reading thread refuses it too, at source.query', async () => {
    // A sync that ran, whose query a pull request then changes: from the checkpoint nothing is
    // counted (an integer cursor has no future rows), so the read is the first query to run it.
    const file = path.join(work, 'syncs', 'changed.yaml');
    writeFileSync(file, syncFile('postgres', 'SELECT id, email, ts FROM orders').replace('  primary_key: id\n', '  primary_key: id\n  cursor: id\n'));
    const first = await runCli(['run', 'changed'], { cwd: work, env: env() });
    expect(first.code, first.stderr).toBe(0);
    await withClient(dbUrl, (c) => c.query("INSERT INTO orders VALUES (6, 'u6@example.com', now() - interval '1 hour')"));
    writeFileSync(file, syncFile('postgres', 'SELECT o.id, o.email, o.ts, wipe_victim() AS wiped FROM orders o').replace('  primary_key: id\n', '  primary_key: id\n  cursor: id\n'));
    const result = await runCli(['run', 'changed'], { cwd: work, env: env() });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/changed\.yaml:5:\d+: source\.query: the query tries to write \(cannot execute DELETE in a read-only transaction\)/);
    expect(await victim()).toEqual(VICTIM);
    await withClient(dbUrl, (c) => c.query('DELETE FROM orders WHERE id = 6'));
    fake.delivered.clear();
  });

  it('still reads: a plain query runs', async () => {
    writeFileSync(path.join(work, 'syncs', 'plain.yaml'), syncFile('postgres', 'SELECT id, email, ts FROM orders'));
    const result = await runCli(['run', 'plain', '--json'], { cwd: work, env: env() });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ rows_read: 5, events_sent: 5 });
    fake.delivered.clear();
  });
});

describe('a DuckDB source query', () => {
  it('cannot close its parenthesis and COPY to a file', async () => {
    const target = path.join(work, 'pwned.csv');
    writeFileSync(path.join(work, 'syncs', 'duck-copy.yaml'), syncFile('duckdb',
      `SELECT 1 AS id) AS x; COPY (SELECT 42 AS answer) TO '${target}'; SELECT * FROM (SELECT 1 AS id`));
    await expectRefused('duck-copy', /source\.query: the query closes the parenthesis pinsync wraps it in and adds 2 statements/);
    expect(existsSync(target)).toBe(false);
  });

  it('must be a SELECT: COPY, ATTACH, INSTALL, SET and PRAGMA are refused before they run', async () => {
    const target = path.join(work, 'copied.csv');
    const cases: [string, string, RegExp][] = [
      ['duck-copy-only', `COPY (SELECT 1 AS id) TO '${target}'`, /is a COPY statement/],
      ['duck-attach', `ATTACH '${path.join(work, 'attached.db')}' AS other`, /is an ATTACH statement/],
      ['duck-install', 'INSTALL httpfs', /is a LOAD statement/],
      ['duck-set', 'SET threads = 1', /is a SET statement/],
      ['duck-pragma', 'PRAGMA enable_profiling', /is a PRAGMA statement/],
    ];
    for (const [name, query] of cases) writeFileSync(path.join(work, 'syncs', `${name}.yaml`), syncFile('duckdb', query));
    // One validate for them all; preview and run take the same path (the check when the source opens).
    const result = await runCli(['validate', '--connect', ...cases.map(([name]) => path.join(work, 'syncs', `${name}.yaml`))], { cwd: work, env: env() });
    expect(result.code, result.stderr).toBe(2);
    for (const [name, , message] of cases) expect(result.stderr).toMatch(new RegExp(`${name}\\.yaml:5:\\d+: source\\.query: .*${message.source}`));
    await expectRefused('duck-copy-only', /is a COPY statement/);
    expect(existsSync(target)).toBe(false);
    expect(existsSync(path.join(work, 'attached.db'))).toBe(false);
  });

  it('still reads files', async () => {
    writeFileSync(path.join(work, 'leads.csv'), `id,email,ts\n1,a@example.com,${new Date(Date.now() - 3600_000).toISOString()}\n`);
    writeFileSync(path.join(work, 'syncs', 'duck-plain.yaml'), syncFile('duckdb', `SELECT * FROM read_csv('${path.join(work, 'leads.csv')}')`));
    const result = await runCli(['preview', 'duck-plain'], { cwd: work, env: env() });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('rows read 1, events 1');
    expect(readFileSync(path.join(work, 'leads.csv'), 'utf8')).toContain('a@example.com');
  });
});
