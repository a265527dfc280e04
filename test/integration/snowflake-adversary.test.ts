// Adversarial cases for the Snowflake source, against the stand-in through the real driver:
// keys and cursors at their edges (big NUMBERs, quoted text, nanosecond ties, DATE, NULL),
// queries as users write them, names in every case, reads abandoned or cut off, bad keys and accounts.
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnowflakeSourceConfig } from '../../src/config/schema.js';
import { SourceError } from '../../src/core/errors.js';
import { SnowflakeSource } from '../../src/sources/snowflake/index.js';
import type { Row } from '../../src/core/types.js';
import type { Position } from '../../src/sources/types.js';
import { runCli } from '../helpers/cli.js';
import { FakeSnowflake } from '../helpers/fake-snowflake.js';

let fake: FakeSnowflake;
let dir: string;
const opened: SnowflakeSource[] = [];

beforeAll(async () => {
  fake = await new FakeSnowflake({ chunkRows: 50 }).start();
  process.env.PINSYNC_SNOWFLAKE_URL = fake.url;
  dir = mkdtempSync(path.join(tmpdir(), 'pinsync-sf-adv-'));
  await fake.exec('CREATE SCHEMA adv');
  // Keys past 2^53: 9007199254740993 and its neighbours differ only beyond a double's precision.
  await fake.exec(`CREATE TABLE adv.big (id DECIMAL(38,0), v INTEGER)`);
  await fake.exec(`INSERT INTO adv.big VALUES (9007199254740993, 1), (9007199254740992, 2), (9007199254740994, 3),
    (99999999999999999999999999999999999999, 4), (-99999999999999999999999999999999999999, 5)`);
  await fake.exec(`CREATE TABLE adv.texts (k VARCHAR, v INTEGER)`);
  await fake.exec(`INSERT INTO adv.texts VALUES ('o''brien', 1), ('a"b', 2), ('back\\slash', 3), ('ünïcødé', 4), ('日本', 5), ('😀', 6), ('a:1', 7), ('', 8)`);
  // Ties: three rows on one nanosecond, two on the next.
  await fake.exec(`CREATE TABLE adv.ties (id BIGINT, ntz TIMESTAMP_NS, ltz TIMESTAMPTZ, day DATE, n DECIMAL(18,4))`);
  await fake.exec(`INSERT INTO adv.ties VALUES
    (3, TIMESTAMP_NS '2026-11-20 10:00:00.123456789', TIMESTAMPTZ '2026-11-20 10:00:00.000001+00', DATE '2026-11-20', 1.5000),
    (1, TIMESTAMP_NS '2026-11-20 10:00:00.123456789', TIMESTAMPTZ '2026-11-20 10:00:00.000001+00', DATE '2026-11-20', 1.5000),
    (2, TIMESTAMP_NS '2026-11-20 10:00:00.123456789', TIMESTAMPTZ '2026-11-20 10:00:00.000001+00', DATE '2026-11-20', 1.5000),
    (5, TIMESTAMP_NS '2026-11-20 10:00:00.123456790', TIMESTAMPTZ '2026-11-20 10:00:00.000002+00', DATE '2026-11-21', 1.5001),
    (4, TIMESTAMP_NS '2026-11-20 10:00:00.123456790', TIMESTAMPTZ '2026-11-20 10:00:00.000002+00', DATE '2026-11-21', 1.5001),
    (6, NULL, NULL, NULL, NULL)`);
  await fake.exec(`CREATE TABLE adv.people AS SELECT i AS id, 'u' || i || '@example.com' AS email FROM range(20) t(i)`);
  await fake.exec(`CREATE TABLE adv.nullkeys (id BIGINT, ts TIMESTAMP)`);
  await fake.exec(`INSERT INTO adv.nullkeys VALUES (1, TIMESTAMP '2026-01-01'), (NULL, TIMESTAMP '2026-01-02'), (2, NULL), (3, TIMESTAMP '2026-01-03')`);
  await fake.exec(`CREATE TABLE adv.events AS SELECT i AS id, CAST(now() AS TIMESTAMP) - INTERVAL 1 HOUR AS ts, 'u' || i || '@example.com' AS email FROM range(3) t(i)`);
  await fake.exec(`CREATE TABLE adv.many AS SELECT i AS id FROM range(2000) t(i)`);
  await fake.exec('CREATE SCHEMA quoted; CREATE TABLE quoted.mixed (id BIGINT, "email" VARCHAR)');
  await fake.exec(`INSERT INTO quoted.mixed VALUES (1, 'x@example.com')`);
});

afterAll(async () => {
  for (const source of opened) await source.close();
  delete process.env.PINSYNC_SNOWFLAKE_URL;
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
});

function open(extra: Partial<SnowflakeSourceConfig> = {}): SnowflakeSource {
  const source = new SnowflakeSource({
    type: 'snowflake', account: fake.account, user: fake.user, password: fake.password, warehouse: 'PINSYNC_WH', database: 'PINSYNC_DB',
    statement_timeout: '10m', table: 'adv.big', primary_key: 'id', ...extra,
  } as SnowflakeSourceConfig, 'adv_sync');
  opened.push(source);
  return source;
}

async function rows(source: SnowflakeSource, after?: Position, pageSize = 1000): Promise<Row[]> {
  const all: Row[] = [];
  for await (const page of source.read({ pageSize, ...(after ? { after } : {}) })) all.push(...page);
  return all;
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(() => { throw new Error('it worked'); }, (e: Error) => e);
}

/** Reads everything, then resumes after every row's position: each resume gives exactly the rows after it. */
async function resumesExactly(source: SnowflakeSource): Promise<Row[]> {
  const all = await rows(source);
  const positions = all.map((row) => source.positionOf(row));
  for (let i = 0; i < all.length; i++) {
    expect(await rows(source, positions[i])).toEqual(all.slice(i + 1));
  }
  return all;
}

describe('snowflake adversary: keys and cursors', () => {
  it('orders and resumes NUMBER(38,0) keys beyond 2^53 exactly', async () => {
    const source = open();
    const all = await resumesExactly(source);
    expect(all.map((r) => r[0])).toEqual([
      '-99999999999999999999999999999999999999', '9007199254740992', '9007199254740993', '9007199254740994', '99999999999999999999999999999999999999',
    ]);
  });

  it('resumes text keys with quotes, a backslash, unicode and the empty string exactly', async () => {
    const all = await resumesExactly(open({ table: 'adv.texts', primary_key: 'k' }));
    expect(all).toHaveLength(8);
    expect(all.map((r) => r[0])).toContain("o'brien");
    expect(all.map((r) => r[0])).toContain('back\\slash');
  });

  for (const cursor of ['ntz', 'ltz', 'day', 'n']) {
    it(`resumes a ${cursor} cursor with ties from every position, the NULL cursor row counted missing`, async () => {
      const source = open({ table: 'adv.ties', cursor });
      const all = await resumesExactly(source);
      expect(all.map((r) => r[0])).toEqual(['1', '2', '3', '4', '5']);
      expect((await source.unreadableRows()).missing).toBe(1);
    });
  }

  it('skips rows with a NULL key or cursor and counts them missing', async () => {
    const source = open({ table: 'adv.nullkeys', cursor: 'ts' });
    expect((await rows(source)).map((r) => r[0])).toEqual(['1', '3']);
    expect((await source.unreadableRows()).missing).toBe(2);
  });
});

describe('snowflake adversary: queries and names', () => {
  const query = (sql: string) => open({ table: undefined, query: sql, primary_key: 'id' });

  it('reads a query with a trailing semicolon, a trailing comment, a CTE, comments inside', async () => {
    for (const sql of [
      'SELECT id, email FROM adv.people;',
      'SELECT id, email FROM adv.people -- all of them',
      'SELECT id, email FROM adv.people;\n',
      '/* people */ SELECT id, email FROM adv.people /* end */',
      'WITH p AS (SELECT id, email FROM adv.people) SELECT * FROM p',
      'with p as (select id, email from adv.people) select * from p;',
    ]) {
      const source = query(sql);
      expect(await source.columns(), sql).toEqual(['id', 'email']);
      expect((await rows(source)).length, sql).toBe(20);
    }
  });

  it('reads aliases in any case: unquoted mixed case, quoted mixed case', async () => {
    const source = query('SELECT id, email AS "Email", email AS Lower_Alias FROM adv.people');
    expect(await source.columns()).toEqual(['id', 'Email', 'lower_alias']);
    expect((await rows(source))[0]).toEqual(['0', 'u0@example.com', 'u0@example.com', '0']);
  });

  it('reads a column named in lower case in Snowflake ("email")', async () => {
    const source = open({ table: 'quoted.mixed', primary_key: 'id' });
    expect(await source.columns()).toEqual(['id', 'email']);
    expect(await rows(source)).toEqual([['1', 'x@example.com', '1']]);
  });

  it('reads a table named with its database, db.schema.table, and a key named in upper case', async () => {
    const source = open({ table: 'pinsync_db.adv.people', database: undefined, primary_key: 'ID' });
    expect((await rows(source)).length).toBe(20);
    expect(fake.queries.at(-1)!.sqlText).toContain('FROM "PINSYNC_DB"."ADV"."PEOPLE" AS pinsync_source');
  });
});

describe('snowflake adversary: reads cut short', () => {
  it('a read abandoned after one page leaves nothing hung and close() ends the session', async () => {
    const { opened: before, closed } = fake.sessions;
    const source = open({ table: 'adv.many' });
    for await (const page of source.read({ pageSize: 10 })) {
      expect(page).toHaveLength(10);
      break;
    }
    // The same source reads again afterwards, from the start.
    expect((await rows(source)).length).toBe(2000);
    await source.close();
    expect(fake.sessions.opened - before).toBe(1);
    expect(fake.sessions.closed - closed).toBe(1);
  });
});

describe('snowflake adversary: close during a read', () => {
  it('close() while a read waits between pages ends the read, without a hang', async () => {
    const { closed } = fake.sessions;
    const source = open({ table: 'adv.many' });
    const pages = source.read({ pageSize: 10 })[Symbol.asyncIterator]();
    expect((await pages.next()).value).toHaveLength(10);
    await source.close();
    expect(fake.sessions.closed - closed).toBe(1);
    // The rest of the result may still come from chunks already fetched, or the read fails; it must settle.
    const settled = await (async () => { try { while (!(await pages.next()).done); return 'done'; } catch (e) { return (e as Error).message; } })();
    expect(typeof settled).toBe('string');
  });
});

describe('snowflake adversary: logins', () => {
  const keyFile = (name: string, pem: string, mode = 0o600) => {
    const file = path.join(dir, name);
    writeFileSync(file, pem);
    chmodSync(file, mode);
    return file;
  };

  it('names the fix for a key file that is a public key, not a key, or empty', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    for (const [name, pem] of [
      ['public.pem', publicKey.export({ format: 'pem', type: 'spki' }).toString()],
      ['junk.p8', 'hello, this is not a key\n'],
      ['empty.p8', ''],
      ['ssh.pub', 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 user@host\n'],
    ] as const) {
      const error = await failure(open({ password: undefined, private_key_file: keyFile(name, pem) }).columns());
      expect(error, name).toBeInstanceOf(SourceError);
      expect(error.message, name).toMatch(/^pinsync could not read the private key in source\.private_key_file/);
    }
  });

  it('names the fix for an account written as a URL', async () => {
    for (const account of ['https://acme-test.snowflakecomputing.com', 'https://acme-test.snowflakecomputing.com/', 'acme-test.snowflakecomputing.com']) {
      const error = await failure(open({ account }).columns());
      expect(error, account).toBeInstanceOf(SourceError);
      expect(error.message, account).toMatch(/source\.account/);
      expect(error.message, account).toContain('acme-test');
      expect(error.message, account).not.toContain(fake.password);
    }
    expect((await failure(open({ account: 'acme test' }).columns())).message)
      .toBe('source.account (acme test) is not an account identifier: write the part before .snowflakecomputing.com, e.g. myorg-myaccount');
  });

  it('writes nothing in $HOME or the working directory while logging in and reading', async () => {
    const home = mkdtempSync(path.join(dir, 'home-'));
    const cwd = readdirSync(process.cwd()).sort();
    const saved = process.env.HOME;
    process.env.HOME = home;
    try {
      const source = open({ password: undefined, private_key_file: keyFile('home.p8', fake.privateKeyPem), table: 'adv.many' });
      expect((await rows(source)).length).toBe(2000);
      await source.close();
    } finally {
      process.env.HOME = saved;
    }
    expect(readdirSync(home)).toEqual([]);
    expect(readdirSync(process.cwd()).sort()).toEqual(cwd);
  });

  it('names the fix when the user\'s own sf_client_config.json in $HOME is writable by others', async () => {
    const home = mkdtempSync(path.join(dir, 'easy-'));
    const config = path.join(home, 'sf_client_config.json');
    writeFileSync(config, JSON.stringify({ common: { log_level: 'OFF' } }));
    chmodSync(config, 0o666);
    writeFileSync(path.join(home, 'sf.yaml'), `version: 1
name: sf_people
source:
  type: snowflake
  account: \${SNOWFLAKE_ACCOUNT}
  user: PINSYNC
  password: \${SNOWFLAKE_PASSWORD}
  warehouse: PINSYNC_WH
  database: PINSYNC_DB
  table: adv.events
  primary_key: id
  cursor: ts
match: { em: email }
mappings:
  event_name: { value: lead }
  action_source: { value: web }
  event_time: ts
`);
    // In a process of its own: the driver looks for the file once per process, at its first login.
    const result = await runCli(['preview', 'sf.yaml'], {
      cwd: home, env: { HOME: home, SNOWFLAKE_ACCOUNT: fake.account, SNOWFLAKE_PASSWORD: fake.password, PINSYNC_SNOWFLAKE_URL: fake.url },
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('pinsync: the Snowflake driver refused its logging config file sf_client_config.json (in $HOME, or SF_CLIENT_CONFIG_FILE): make it valid JSON and writable only by its owner (chmod 600), or remove it');
  });
});
