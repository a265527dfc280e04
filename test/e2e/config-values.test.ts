// Issue 20, "config values that trip the loader": the built CLI on sync files and options a new
// user gets wrong, each refused with exit 2 and a message that says what to do.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'pinsync-config-values-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const env = (more: Record<string, string> = {}) => ({ PINTEREST_AD_ACCOUNT_ID: '549757463328', PINTEREST_ACCESS_TOKEN: 'pina_SECRET_never_shown', PINSYNC_STATE: path.join(work, 'state.db'), ...more });
const cli = (args: string[], more: Record<string, string> = {}) => runCli(['--syncs-dir', work, ...args], { cwd: work, env: env(more) });

const QUERY = `SELECT * FROM (VALUES
      ('o1', now(), 'a@example.com', ' usd '),
      ('o2', now(), 'b@example.com', 'DOLLARS'),
      ('o3', now(), 'c@example.com', NULL)) AS t(order_id, completed_at, email, cur)`;

function writeSync(name: string, body: { source?: string; mappings?: string; options?: string } = {}): void {
  writeFileSync(path.join(work, `${name}.yaml`), `version: 1
source:
${body.source ?? `  type: duckdb
  query: |
    ${QUERY}
  primary_key: order_id`}
destination:
  ad_account_id: \${PINTEREST_AD_ACCOUNT_ID}
  access_token: \${PINTEREST_ACCESS_TOKEN}
match:
  em: email
mappings:
  event_name: { value: checkout }
  action_source: { value: web }
  event_time: completed_at
${body.mappings ?? ''}${body.options ?? ''}`);
}

describe('a PostgreSQL URL whose password needs percent-encoding', () => {
  const PASSWORD = 'Wh1te#Rabbit/42';
  beforeAll(() => writeSync('pg_url', { source: '  type: postgres\n  url: ${WAREHOUSE_URL}\n  table: orders\n  primary_key: order_id' }));

  it('is a problem at source.url from validate, with or without --connect, never showing the password', async () => {
    for (const args of [['validate', 'pg_url.yaml'], ['validate', '--connect', 'pg_url.yaml']]) {
      const result = await cli(args, { WAREHOUSE_URL: `postgres://loader:${PASSWORD}@127.0.0.1:1/shop` });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(/pg_url\.yaml:4:8: source\.url: is not a valid URL: percent-encode special characters in the user name and password \(# as %23, \/ as %2F/);
      expect(result.stderr).not.toContain('internal error');
      expect(result.stderr + result.stdout).not.toContain('Rabbit');
    }
  });

  it('as --state is a usage error, never showing the password', async () => {
    const result = await cli(['status', '--state', `postgres://pinsync:${PASSWORD}@127.0.0.1:1/state`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^pinsync: --state: the PostgreSQL URL is not a valid URL: percent-encode special characters in the user name and password/m);
    expect(result.stderr + result.stdout).not.toContain('Rabbit');
  });

  it('as --state without a host (a socket directory) says so, instead of "Invalid URL"', async () => {
    const result = await cli(['status', '--state', 'postgres://pinsync:SocketPw99@/state?host=/var/run/postgresql']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^pinsync: --state: the PostgreSQL state URL needs a host/m);
    expect(result.stderr + result.stdout).not.toContain('SocketPw99');
  });
});

describe('option values', () => {
  beforeAll(() => writeSync('orders'));

  it('refuses --limit 0 and --parallel 0 instead of printing nothing or running one at a time', async () => {
    for (const args of [['preview', 'orders', '--limit', '0'], ['run', 'orders', '--parallel', '0'], ['schedule', '--parallel', '0'], ['preview', 'orders', '--limit', '-1'], ['preview', 'orders', '--limit', '1.5']]) {
      const result = await cli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain('expected a whole number of at least 1');
      expect(result.stdout).toBe('');
    }
    const one = await cli(['preview', 'orders', '--limit', '1']);
    expect(one.stdout.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe('status of a sync', () => {
  it('exits 2 for a sync with neither a file nor state, naming what it looked for', async () => {
    const result = await cli(['status', 'nosuch']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("no sync file or sync named 'nosuch'");
    expect(result.stderr).toContain("the state has no sync 'nosuch' either (pinsync status lists every sync)");
    expect(result.stdout).not.toContain('no runs yet');
  });

  it('still shows a sync whose file is gone but whose state remains', async () => {
    writeSync('gone');
    expect((await cli(['reset', 'gone', '--to', 'o1'])).code).toBe(0);
    unlinkSync(path.join(work, 'gone.yaml'));
    const result = await cli(['status', 'gone']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('gone');
  });
});

describe('values that reach events', () => {
  it('uppercases currency codes and rejects rows whose code is not ISO 4217', async () => {
    writeSync('currency', { mappings: '  custom_data.currency: cur\n' });
    const result = await cli(['preview', 'currency']);
    const events = result.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => [e.event_id, e.custom_data?.currency ?? null])).toEqual([['o1', 'USD'], ['o3', null]]);
    expect(result.stderr).toContain("o2: custom_data.currency: invalid value ('DOLLARS' is not an ISO 4217 currency code such as USD or EUR)");
  });

  it('refuses a currency literal, an event name with a hint, and a number out of range, all at once, with file:line', async () => {
    writeSync('literals', {
      mappings: '  custom_data.currency: { value: DOLLARS }\n',
      options: 'options:\n  max_reject_rate: 1e400\n',
    });
    const text = `${path.join(work, 'literals.yaml')}`;
    const body = (await import('node:fs')).readFileSync(text, 'utf8').replace('{ value: checkout }', '{ value: purchase }');
    writeFileSync(text, body);
    const result = await cli(['validate', 'literals.yaml']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/literals\.yaml:16:24: mappings\.event_name\.value: 'purchase' is not one of add_payment_info, .*, watch_video; did you mean 'checkout'\?/);
    expect(result.stderr).toContain("literals.yaml:19:34: mappings.custom_data.currency.value: 'DOLLARS' is not an ISO 4217 currency code such as USD or EUR");
    expect(result.stderr).toContain('literals.yaml:21:20: options.max_reject_rate: must be a number from 0 to 1');
  });

  it('reads batch_size and test from ${VAR} defaults', async () => {
    writeSync('from_env', { source: `  type: duckdb\n  query: |\n    ${QUERY}\n  primary_key: order_id` });
    const file = path.join(work, 'from_env.yaml');
    const body = (await import('node:fs')).readFileSync(file, 'utf8').replace('  access_token: ${PINTEREST_ACCESS_TOKEN}', '  access_token: ${PINTEREST_ACCESS_TOKEN}\n  batch_size: ${BATCH:-500}\n  test: ${TEST_MODE:-true}');
    writeFileSync(file, body);
    const result = await cli(['validate', 'from_env.yaml']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('refuses an identifier column as the primary key or a mapped field, unless declared as SHA-256 hex', async () => {
    writeSync('pk_email', { source: `  type: duckdb\n  query: |\n    ${QUERY}\n  primary_key: email`, mappings: '  custom_data.order_id: email\n' });
    const result = await cli(['validate', 'pk_email.yaml']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("pk_email.yaml:9:16: source.primary_key: column 'email' is hashed for match.em, so it cannot also be the primary key");
    expect(result.stderr).toContain("pk_email.yaml:19:25: mappings.custom_data.order_id: column 'email' is hashed for match.em, so it cannot also be sent as custom_data.order_id in clear");
    // Declared as digests, the rows hold emails: each is rejected, none is shown.
    writeSync('declared', { mappings: '  custom_data.order_id: email\n', options: 'options:\n  hashed_columns: [email]\n' });
    const preview = await cli(['preview', 'declared']);
    expect(preview.stdout).toBe('');
    expect(preview.stderr).toContain('o1: custom_data.order_id: invalid value (a column in options.hashed_columns holds a value that is not SHA-256 hex)');
    expect(preview.stderr + preview.stdout).not.toContain('@example.com');
  });
});
