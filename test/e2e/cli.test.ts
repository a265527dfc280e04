// The built CLI, run as a subprocess against the shipped example and temporary sync files.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversionEventSchema } from '../../src/core/event-schema.js';
import { BIN, ROOT, runCli } from '../helpers/cli.js';

let work: string;

beforeAll(() => {
  // A copy of syncs/ in a scratch folder, so nothing a command might write lands in the checkout.
  work = mkdtempSync(path.join(tmpdir(), 'pinsync-e2e-'));
  cpSync(path.join(ROOT, 'syncs'), path.join(work, 'syncs'), { recursive: true });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const RAW_EMAIL = /[A-Za-z0-9._%+-]+@(?:example\.(?:com|org|net)|EXAMPLE\.(?:COM|ORG|NET))/;

describe('pinsync preview', () => {
  let result: Awaited<ReturnType<typeof runCli>>;
  beforeAll(async () => {
    result = await runCli(['preview', 'syncs/example.yaml'], { cwd: work, env: { PINTEREST_ACCESS_TOKEN: 'pina_SECRET_never_shown' } });
  });

  it('prints one valid event per line for the sample data, offline and without credentials', () => {
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(1800);
    const ids = new Set<string>();
    for (const line of lines) {
      const event = JSON.parse(line);
      const parsed = conversionEventSchema.safeParse(event);
      expect(parsed.success, `${line}\n${JSON.stringify(parsed.error?.issues)}`).toBe(true);
      ids.add(event.event_id);
    }
    expect(ids.size).toBe(lines.length);
  });

  it('accounts for every row: events plus rejects equal rows read, rejects named by primary key', () => {
    const summary = /rows read (\d+), events (\d+), rejected (\d+)/.exec(result.stderr);
    expect(summary).not.toBeNull();
    const [, read, events, rejected] = summary!.map(Number);
    expect(read).toBe(2000);
    expect(events! + rejected!).toBe(read);
    expect(result.stdout.trimEnd().split('\n')).toHaveLength(events!);
    const rejectLines = result.stderr.split('\n').filter((l) => /^ord_\d{6}: /.test(l));
    expect(rejectLines).toHaveLength(rejected!);
    expect(result.stderr).toContain('event_time: older than options.max_event_age (7d)');
    expect(result.stderr).toMatch(/rejected by reason:\n\s+\d+\s+user_data: no usable identifier/);
    expect(result.stderr).toContain('nothing was sent');
  });

  it('never shows a raw identifier or the token', async () => {
    // Every email, phone and device id in the sample data, as written there.
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    const reader = await connection.runAndReadAll(
      `SELECT email, phone, device_id FROM read_csv('${path.join(ROOT, 'syncs/data/orders.csv')}', all_varchar = true)`,
    );
    const raw = new Set<string>();
    for (const row of reader.getRows()) {
      for (const cell of row) {
        const text = String(cell ?? '').trim();
        if (text.length >= 6 && !/^[0-9a-f]{64}$/.test(text)) raw.add(text);
      }
    }
    connection.closeSync();
    db.closeSync();
    expect(raw.size).toBeGreaterThan(1000);
    for (const text of [result.stdout, result.stderr]) {
      expect(text).not.toMatch(RAW_EMAIL);
      for (const value of raw) if (text.includes(value)) throw new Error(`output shows a raw identifier: ${value.slice(0, 3)}…`);
      expect(text).not.toContain('pina_SECRET_never_shown');
    }
  });

  it('writes no state', () => {
    expect(existsSync(path.join(work, '.pinsync'))).toBe(false);
    expect(readdirSync(work)).toEqual(['syncs']);
  });

  it('stops after --limit events and shows a table with --format table', async () => {
    const limited = await runCli(['preview', 'example', '--limit', '5'], { cwd: work });
    expect(limited.code).toBe(0);
    expect(limited.stdout.trimEnd().split('\n')).toHaveLength(5);
    const table = await runCli(['preview', 'example_orders', '--limit', '3', '--format', 'table'], { cwd: work });
    expect(table.code).toBe(0);
    const rows = table.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^event_id\s+event_name\s+event_time \(UTC\)\s+value\s+currency\s+user_data keys$/);
    expect(rows.slice(1)).toHaveLength(3);
    expect(rows[1]).toMatch(/^ord_\d{6}\s+\w+\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
    expect(table.stdout).not.toMatch(/[0-9a-f]{64}/);
  });

  it('ends quietly when the reader closes the pipe', async () => {
    const child = spawn(process.execPath, [BIN, 'preview', 'syncs/example.yaml'], { cwd: work });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(stderr).not.toContain('internal error');
  });
});

describe('errors from preview', () => {
  const write = (name: string, text: string) => {
    mkdirSync(path.join(work, 'bad'), { recursive: true });
    writeFileSync(path.join(work, 'bad', name), text);
    return path.join('bad', name);
  };
  const sync = (mappingLine: string, source = "query: SELECT * FROM read_csv('../syncs/data/orders.csv')") => `version: 1
source:
  type: duckdb
  ${source}
  primary_key: order_id
match:
  em: email
mappings:
  event_name: { value: lead }
  action_source: { value: web }
  ${mappingLine}
`;

  it('names a mapped column the source lacks, with file:line:col, exit 2', async () => {
    const file = write('typo.yaml', sync('event_time: completd_at'));
    const result = await runCli(['preview', file], { cwd: work });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(`${file}:11:15: mappings.event_time: column 'completd_at' is not in the source; did you mean 'completed_at'?`);
  });

  it('reports a source that cannot be read, exit 1', async () => {
    const file = write('missing.yaml', sync('event_time: completed_at', "query: SELECT * FROM read_csv('nowhere.csv')"));
    const result = await runCli(['preview', file], { cwd: work });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^pinsync: DuckDB cannot read the source query: .*nowhere\.csv/);
  });

  it('exits 3 when a full preview rejects more than max_reject_rate', async () => {
    const file = write('strict.yaml', `${sync('event_time: completed_at')}options:\n  max_event_age: 1s\n`);
    const result = await runCli(['preview', file], { cwd: work });
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/rejected 100\.0% of rows read, above options\.max_reject_rate 0\.05/);
  });
});

describe('pinsync validate', () => {
  it('reports all problems of all files at once, exit 2, and never the token', async () => {
    const dir = path.join(work, 'many');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'a.yaml'), 'version: 1\nsource:\n  type: duckdb\n  table: t\n  cusor: x\nmatch: { em: email }\nmappings: { event_name: { value: lead }, action_source: { value: web }, event_time: t }\ndestination: { ad_account_id: "1", access_token: "${PINTEREST_ACCESS_TOKEN}" }\n');
    writeFileSync(path.join(dir, 'b.yaml'), 'version: 1\nsource: { type: duckdb, table: t }\nmatch: { ph: phone }\nmappings: { event_name: { value: lead }, action_source: { value: web }, event_time: t }\ndestination: { ad_account_id: "1", access_token: "${PINTEREST_ACCESS_TOKEN}" }\n');
    writeFileSync(path.join(dir, 'c.yaml'), 'version: 1\nname: a\nsource: { type: duckdb, table: t }\nmatch: { em: e }\nmappings: { event_name: { value: lead }, action_source: { value: web }, event_time: t }\ndestination: { ad_account_id: "1", access_token: "${PINTEREST_ACCESS_TOKEN}" }\n');
    const result = await runCli(['validate', '--syncs-dir', dir], { cwd: work, env: { PINTEREST_ACCESS_TOKEN: 'pina_SECRET' } });
    expect(result.code).toBe(2);
    const a = path.join(dir, 'a.yaml');
    expect(result.stderr.split('\n').filter(Boolean)).toEqual([
      `${a}:5:3: source.cusor: unknown key 'cusor' in source; did you mean 'cursor'?`,
      `${path.join(dir, 'b.yaml')}:3:8: match: a sync needs em, hashed_maids, or client_ip_address with client_user_agent`,
      `${path.join(dir, 'c.yaml')}:2:7: name: sync name 'a' is also used by ${a}; names key the state and must be unique`,
      '3 invalid files of 3, 3 problems',
    ]);
    expect(result.stdout + result.stderr).not.toContain('pina_SECRET');
  });

  it('names each unset environment variable, and passes once they are set', async () => {
    const unset = await runCli(['validate'], { cwd: work });
    expect(unset.code).toBe(2);
    expect(unset.stderr).toMatch(/syncs\/example\.yaml:\d+:\d+: destination\.access_token: environment variable PINTEREST_ACCESS_TOKEN is not set/);
    const set = await runCli(['validate', '--connect'], { cwd: work, env: { PINTEREST_AD_ACCOUNT_ID: '549757463328', PINTEREST_ACCESS_TOKEN: 't' } });
    expect(set.stderr).toBe('');
    // The audience example is checked against its source's columns too.
    expect(set.stdout).toBe('ok  syncs/audience-example.yaml\nok  syncs/example.yaml\n');
    expect(set.code).toBe(0);
  });
});

describe('pinsync schema and usage', () => {
  it('prints the JSON Schema of the sync file', async () => {
    const result = await runCli(['schema']);
    expect(result.code).toBe(0);
    const schema = JSON.parse(result.stdout);
    expect(schema.title).toBe('pinsync sync file (version 1)');
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['source', 'destination', 'match', 'mappings', 'options']));
  });

  it('exits 2 on usage errors and 0 on --help', async () => {
    expect((await runCli(['bogus'])).code).toBe(2);
    expect((await runCli(['preview', 'example', '--limit', 'x'])).code).toBe(2);
    expect((await runCli(['preview', 'no_such_sync'])).stderr).toContain("no sync file or sync named 'no_such_sync'");
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('preview');
  });

  it('ends a run that never reads: the reading thread started early keeps no process alive', async () => {
    // `run` starts its reading thread before anything else; these end before a run uses it.
    const help = await runCli(['run', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--full-refresh');
    const missing = await runCli(['run', 'no_such_sync'], { cwd: work });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no sync file or sync named 'no_such_sync'");
  }, 10_000);

  it('fails a run of several syncs once, exit 1, when the state cannot be opened', async () => {
    const blocked = path.join(work, 'not-a-folder');
    writeFileSync(blocked, '');
    const second = path.join(work, 'syncs', 'second.yaml');
    writeFileSync(second, readFileSync(path.join(work, 'syncs', 'example.yaml'), 'utf8').replace('name: example_orders', 'name: second_orders'));
    // Removed whatever happens: later tests validate every file in syncs/.
    const result = await runCli(['run', 'syncs/example.yaml', 'syncs/second.yaml', '--state', path.join(blocked, 'state.db')], {
      cwd: work, env: { PINTEREST_ACCESS_TOKEN: 'pina_SECRET_never_shown', PINTEREST_AD_ACCOUNT_ID: '549757463328' },
    }).finally(() => rmSync(second));
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n').filter((l) => l.includes('cannot open the state store'))).toHaveLength(1);
    expect(result.stderr).not.toContain('pina_SECRET_never_shown');
  }, 20_000);
});
