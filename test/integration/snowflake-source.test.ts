// What is Snowflake's own in the Snowflake source, against the stand-in (test/helpers/fake-snowflake.ts)
// through the real driver: each login, the session it sets (query tag, timeout, formats), a result
// read in several chunks, types, upper-case names, the errors a user meets, a refused write.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnowflakeSourceConfig } from '../../src/config/schema.js';
import { RefusedQueryError, SourceError } from '../../src/core/errors.js';
import { SnowflakeSource } from '../../src/sources/snowflake/index.js';
import type { Row } from '../../src/core/types.js';
import type { Source } from '../../src/sources/types.js';
import { runCli } from '../helpers/cli.js';
import { FakeSnowflake } from '../helpers/fake-snowflake.js';

let fake: FakeSnowflake;
let dir: string;
const opened: Source[] = [];
// Within options.max_event_age of now, with milliseconds.
const PURCHASED_AT = Math.floor(Date.now() / 1000) * 1000 - 3_600_000 + 250;

beforeAll(async () => {
  fake = await new FakeSnowflake({ chunkRows: 1000 }).start();
  process.env.PINSYNC_SNOWFLAKE_URL = fake.url;
  dir = mkdtempSync(path.join(tmpdir(), 'pinsync-snowflake-'));
  await fake.exec('CREATE SCHEMA analytics');
  await fake.exec(`CREATE TABLE analytics.orders AS SELECT i AS id, TIMESTAMP '2026-01-01 00:00:00' + to_microseconds(i * 1000001) AS updated_at,
    'u' || i || '@example.com' AS email FROM range(5000) t(i)`);
  await fake.exec(`CREATE TABLE analytics.types (id BIGINT, amount DECIMAL(38, 2), big DECIMAL(38, 0), ratio DOUBLE, ntz TIMESTAMP_NS, ltz TIMESTAMPTZ,
    day DATE, flag BOOLEAN, v JSON, items STRUCT(sku VARCHAR, qty INTEGER)[], o STRUCT(k VARCHAR), tz TIMESTAMPTZ)`);
  await fake.exec(`INSERT INTO analytics.types VALUES
    (1, 12345678901234567890123456789012.34, 98765432109876543210987654321, 1.5, TIMESTAMP_NS '2026-11-20 10:00:00.123456789', TIMESTAMPTZ '2026-11-20 10:00:00.000001+00',
      DATE '2024-02-29', true, '{"a":[1,2]}', [{'sku': 'A1', 'qty': 2}], {'k': 'v'}, TIMESTAMPTZ '2026-11-20 10:00:00.000001+00'),
    (2, 0.10, 2, NULL, TIMESTAMP_NS '2026-11-20 10:00:00.123456790', TIMESTAMPTZ '2026-11-20 10:00:00.000002+00', NULL, NULL, NULL, NULL, NULL, TIMESTAMPTZ '2026-11-20 10:00:00.000002+00')`);
  // TZ: a TIMESTAMP_TZ column whose values carry +01:00.
  fake.timestampTzColumns.set('TZ', 60);
  await fake.exec('CREATE SCHEMA sales; CREATE TABLE sales."Orders" (id BIGINT, "Email" VARCHAR)');
  await fake.exec(`INSERT INTO sales."Orders" VALUES (7, 'a@example.com')`);
  await fake.exec('CREATE TABLE analytics.secrets (id BIGINT)');
  await fake.exec(`CREATE TABLE analytics.wide AS SELECT i AS id, TIMESTAMP '2026-01-01' + to_seconds(i) AS ts FROM range(10000) t(i)`);
  await fake.exec(`CREATE TABLE analytics.purchases (order_id BIGINT, updated_at TIMESTAMP, email VARCHAR, total DECIMAL(12, 2),
    items STRUCT(sku VARCHAR, qty INTEGER, price DECIMAL(10, 2))[], skus VARCHAR[])`);
  await fake.exec(`INSERT INTO analytics.purchases VALUES (101, TIMESTAMP '${new Date(PURCHASED_AT).toISOString().replace('T', ' ').replace('Z', '')}', 'Buyer@Example.com', 19.99,
    [{'sku': 'A1', 'qty': 2, 'price': 9.99}], ['A1', 'B2'])`);
});

afterAll(async () => {
  for (const source of opened) await source.close();
  delete process.env.PINSYNC_SNOWFLAKE_URL;
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
});

function open(extra: Partial<SnowflakeSourceConfig> = {}, sync = 'orders_sync'): SnowflakeSource {
  const source = new SnowflakeSource({
    type: 'snowflake', account: fake.account, user: fake.user, password: fake.password, warehouse: 'PINSYNC_WH', database: 'PINSYNC_DB',
    statement_timeout: '10m', table: 'analytics.orders', primary_key: 'id', ...extra,
  } as SnowflakeSourceConfig, sync);
  opened.push(source);
  return source;
}

async function rows(source: Source, pageSize = 1000): Promise<Row[]> {
  const all: Row[] = [];
  for await (const page of source.read({ pageSize })) all.push(...page);
  return all;
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(() => { throw new Error('it worked'); }, (e: Error) => e);
}

const keyFile = (name: string, pem: string) => {
  const file = path.join(dir, name);
  writeFileSync(file, pem);
  return file;
};

const selects = () => fake.queries.filter((q) => !q.describeOnly && /^SELECT/i.test(q.sqlText));

describe('snowflake source: logins and the session', () => {
  it('logs in with a key pair, plain or encrypted, with an OAuth token and a password', async () => {
    const plain = open({ password: undefined, private_key_file: keyFile('plain.p8', fake.privateKeyPem) });
    const encrypted = open({ password: undefined, private_key_file: keyFile('enc.p8', fake.encryptedPrivateKeyPem('k3y-pass')), private_key_passphrase: 'k3y-pass' });
    const oauth = open({ password: undefined, oauth_token: fake.oauthToken });
    for (const source of [plain, encrypted, oauth, open()]) {
      expect(await source.columns()).toEqual(['id', 'updated_at', 'email']);
      await source.close();
    }
  });

  it('tags every query with the sync, in UTC with nanosecond timestamps and the statement timeout, one statement each', async () => {
    const before = fake.queries.length;
    const source = open({ statement_timeout: '90s', cursor: 'updated_at' }, 'nightly_orders');
    await rows(source);
    await source.close();
    const mine = fake.queries.slice(before);
    expect(mine.length).toBeGreaterThan(0);
    for (const query of mine) {
      expect(query.queryTag).toBe('pinsync:nightly_orders');
      expect(query.warehouse).toBe('PINSYNC_WH');
    }
    const read = mine.filter((q) => !q.describeOnly && /^SELECT/.test(q.sqlText));
    expect(read).toHaveLength(1);
    expect(read[0]!.parameters).toMatchObject({
      TIMEZONE: 'UTC', STATEMENT_TIMEOUT_IN_SECONDS: 90, MULTI_STATEMENT_COUNT: 1, QUERY_TAG: 'pinsync:nightly_orders',
      TIMESTAMP_NTZ_OUTPUT_FORMAT: 'YYYY-MM-DD HH24:MI:SS.FF9', TIMESTAMP_LTZ_OUTPUT_FORMAT: 'YYYY-MM-DD HH24:MI:SS.FF9',
      TIMESTAMP_TZ_OUTPUT_FORMAT: 'YYYY-MM-DD HH24:MI:SS.FF9 TZH:TZM',
    });
    expect(read[0]!.sqlText).toMatch(/FROM "ANALYTICS"\."ORDERS" AS pinsync_source .*ORDER BY pinsync_source\."UPDATED_AT", pinsync_source\."ID"$/);
  });

  it('reads a 5,000-row table in one query whose result comes in several chunks, in pages', async () => {
    const chunks = fake.chunkDownloads;
    const queries = selects().length;
    const source = open({ cursor: 'updated_at' });
    const sizes: number[] = [];
    const ids: unknown[] = [];
    for await (const page of source.read({ pageSize: 700, columns: ['id'] })) {
      sizes.push(page.length);
      for (const row of page) ids.push(row[0]);
    }
    expect(ids).toEqual(Array.from({ length: 5000 }, (_, i) => String(i)));
    expect(sizes).toEqual([...Array(7).fill(700), 100]);
    expect(fake.chunkDownloads - chunks).toBeGreaterThan(1);
    expect(selects().length - queries).toBe(1);
  });

  it('downloads result chunks as the reader takes rows, not the whole result ahead of it', async () => {
    const source = open({ table: 'analytics.wide', cursor: 'ts' });
    const before = fake.chunkDownloads;
    const pages = source.read({ pageSize: 100, columns: ['id'] })[Symbol.asyncIterator]();
    expect((await pages.next()).value).toHaveLength(100);
    // Time for the driver to fetch ahead as far as it would; then it must wait for the reader.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const ahead = fake.chunkDownloads - before;
    let read = 100;
    for (let page = await pages.next(); !page.done; page = await pages.next()) read += page.value.length;
    expect(read).toBe(10_000);
    expect(fake.chunkDownloads - before).toBe(9);
    // The driver prefetches two chunks; a source that buffered the result would have all nine.
    expect(ahead).toBeLessThan(5);
  });

  it('closes its session, and close() twice is safe; a source never used opens none', async () => {
    const { opened: openedBefore, closed } = fake.sessions;
    const source = open();
    await source.columns();
    await source.close();
    await source.close();
    await open().close();
    expect(fake.sessions.opened - openedBefore).toBe(1);
    expect(fake.sessions.closed - closed).toBe(1);
  });
});

describe('snowflake source: types and names', () => {
  it('describes Snowflake type names as a CAST takes them', async () => {
    expect([...(await open({ table: 'analytics.types' }).columnTypes())]).toEqual([
      ['id', 'NUMBER(38,0)'], ['amount', 'NUMBER(38,2)'], ['big', 'NUMBER(38,0)'], ['ratio', 'FLOAT'], ['ntz', 'TIMESTAMP_NTZ'], ['ltz', 'TIMESTAMP_LTZ'],
      ['day', 'DATE'], ['flag', 'BOOLEAN'], ['v', 'VARIANT'], ['items', 'ARRAY'], ['o', 'OBJECT'], ['tz', 'TIMESTAMP_TZ'],
    ]);
  });

  it('reads NUMBER as exact text, FLOAT as a number, timestamps as Dates, VARIANT, ARRAY and OBJECT as JSON values', async () => {
    const [first, second] = await rows(open({ table: 'analytics.types' }));
    expect(first).toEqual([
      '1', '12345678901234567890123456789012.34', '98765432109876543210987654321', 1.5,
      new Date('2026-11-20T10:00:00.123Z'), new Date('2026-11-20T10:00:00.000Z'), '2024-02-29', true,
      { a: [1, 2] }, [{ sku: 'A1', qty: 2 }], { k: 'v' }, new Date('2026-11-20T10:00:00.000Z'), '1',
    ]);
    // A plain Date: it serializes as ISO, not in Snowflake's text format.
    expect(JSON.stringify(first![4])).toBe('"2026-11-20T10:00:00.123Z"');
    expect(second).toEqual(['2', '0.10', '2', null, new Date('2026-11-20T10:00:00.123Z'), new Date('2026-11-20T10:00:00.000Z'), null, null, null, null, null, new Date('2026-11-20T10:00:00.000Z'), '2']);
  });

  it('keeps every nanosecond (NTZ) and microsecond (LTZ, TZ with its offset) of a timestamp cursor in positions, and resumes after them', async () => {
    for (const [cursor, first, second] of [
      ['ntz', '2026-11-20 10:00:00.123456789', '2026-11-20 10:00:00.123456790'],
      ['ltz', '2026-11-20 10:00:00.000001000', '2026-11-20 10:00:00.000002000'],
      ['tz', '2026-11-20 11:00:00.000001000 +01:00', '2026-11-20 11:00:00.000002000 +01:00'],
    ] as const) {
      const source = open({ table: 'analytics.types', cursor });
      const read = await rows(source);
      expect(read.map((r) => source.positionOf(r))).toEqual([{ cursor: first, key: '1' }, { cursor: second, key: '2' }]);
      const after: Row[] = [];
      for await (const page of source.read({ after: { cursor: first, key: '1' } })) after.push(...page);
      expect(after.map((r) => r[0])).toEqual(['2']);
    }
  });

  it('shows upper-case columns in lower case, finds keys written either way, and reads mixed-case names exactly', async () => {
    const source = open({ primary_key: 'ID', cursor: 'UPDATED_AT' });
    expect(await source.columns()).toEqual(['id', 'updated_at', 'email']);
    expect((await rows(source)).length).toBe(5000);
    const quoted = open({ table: 'sales.Orders' });
    expect(await quoted.columns()).toEqual(['id', 'Email']);
    expect(await rows(quoted)).toEqual([['7', 'a@example.com', '7']]);
    expect(fake.queries.at(-1)!.sqlText).toContain('FROM "SALES"."Orders" AS pinsync_source');
    await expect(open({ table: 'sales.orders' }).columns()).rejects.toThrow(/cannot find it, or the role may not read it/);
  });
});

describe('snowflake source: errors a user meets', () => {
  const secret = (e: Error) => {
    for (const value of [fake.password, fake.oauthToken, 'k3y-pass', 'wrong-password', 'not-a-token']) expect(e.message).not.toContain(value);
    expect(e.message.split('\n')).toHaveLength(1);
    expect(e).toBeInstanceOf(SourceError);
    return e.message;
  };

  it('names the fix for a wrong account, password, key, passphrase or token', async () => {
    expect(secret(await failure(open({ password: 'wrong-password' }).columns())))
      .toMatch(/^Snowflake refused the login of user PINSYNC on account acme-test: check source\.account .*source\.user and source\.password$/);
    expect(secret(await failure(open({ account: 'other-account' }).columns()))).toBe('Snowflake does not know account other-account: check source.account (the part before .snowflakecomputing.com, e.g. myorg-myaccount)');
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(secret(await failure(open({ password: undefined, private_key_file: keyFile('other.p8', other) }).columns())))
      .toMatch(/^Snowflake refused the key pair of user PINSYNC on account acme-test: register the public key .*RSA_PUBLIC_KEY/);
    expect(secret(await failure(open({ password: undefined, private_key_file: keyFile('enc2.p8', fake.encryptedPrivateKeyPem('k3y-pass')), private_key_passphrase: 'wrong-password' }).columns())))
      .toMatch(/^pinsync could not read the private key in source\.private_key_file: .*passphrase/);
    expect(secret(await failure(open({ password: undefined, private_key_file: path.join(dir, 'missing.p8') }).columns())))
      .toMatch(/^cannot read source\.private_key_file \(.*missing\.p8\): ENOENT/);
    expect(secret(await failure(open({ password: undefined, oauth_token: 'not-a-token' }).columns())))
      .toMatch(/^Snowflake refused the OAuth token on account acme-test: it is invalid or expired/);
  });

  it('names the fix for no warehouse, a table the role may not read, bad SQL and a statement timeout', async () => {
    expect(secret(await failure(rows(open({ warehouse: 'NOT_A_WH' })))))
      .toMatch(/^Snowflake has no running warehouse for the query: set source\.warehouse/);
    fake.deniedTables.add('SECRETS');
    try {
      expect(secret(await failure(open({ table: 'analytics.secrets' }).columns())))
        .toMatch(/^Snowflake cannot find it, or the role may not read it: .*grant the role USAGE on the database and schema and SELECT on the table$/);
    } finally {
      fake.deniedTables.clear();
    }
    expect(secret(await failure(open({ table: undefined, query: 'SELEC id FROM analytics.orders' }).columns()))).toMatch(/^Snowflake rejected the SQL: /);
    fake.queryDelayMs = 1500;
    try {
      expect(secret(await failure(rows(open({ statement_timeout: '1s' })))))
        .toMatch(/^Snowflake cancelled the query after source\.statement_timeout \(1s\): raise it/);
    } finally {
      fake.queryDelayMs = 0;
    }
  });

  it('names the fix when Snowflake cannot be reached', async () => {
    const url = process.env.PINSYNC_SNOWFLAKE_URL;
    // A port nothing listens on.
    const closed = await new FakeSnowflake().start();
    process.env.PINSYNC_SNOWFLAKE_URL = closed.url;
    await closed.stop();
    try {
      expect(secret(await failure(open().columns()))).toMatch(/^could not reach Snowflake for account acme-test: check source\.account/);
    } finally {
      process.env.PINSYNC_SNOWFLAKE_URL = url;
    }
  });

  it('refuses a query that writes, or holds a second statement, before anything runs', async () => {
    const before = fake.queries.length;
    const write = await failure(open({ table: undefined, query: 'DELETE FROM analytics.orders WHERE true' }).columns());
    expect(write).toBeInstanceOf(RefusedQueryError);
    expect(write.message).toMatch(/^the query writes .*write a single SELECT$/);
    const two = await failure(open({ table: undefined, query: 'SELECT 1 AS id) AS x; DELETE FROM analytics.orders WHERE true; SELECT * FROM (SELECT 1 AS id' }).columns());
    expect(two).toBeInstanceOf(RefusedQueryError);
    expect(fake.queries.slice(before).every((q) => q.describeOnly || /^ALTER SESSION/.test(q.sqlText))).toBe(true);
    expect(await open({ table: 'analytics.orders' }).columns()).toEqual(['id', 'updated_at', 'email']);
    expect(fake.queries.filter((q) => /^DELETE/.test(q.sqlText)).every((q) => q.describeOnly)).toBe(true);
    expect((await rows(open())).length).toBe(5000);
  });
});

describe('snowflake source: nothing left behind', () => {
  it('previews events through the CLI: time, exact value, contents and content_ids from Snowflake types; no log file, no password', async () => {
    const work = mkdtempSync(path.join(dir, 'cli-'));
    writeFileSync(path.join(work, 'sf.yaml'), `version: 1
name: sf_purchases
source:
  type: snowflake
  account: \${SNOWFLAKE_ACCOUNT}
  user: PINSYNC
  password: \${SNOWFLAKE_PASSWORD}
  warehouse: PINSYNC_WH
  database: PINSYNC_DB
  table: analytics.purchases
  primary_key: ORDER_ID
  cursor: updated_at
match: { em: email }
mappings:
  event_name: { value: checkout }
  action_source: { value: web }
  event_time: updated_at
  custom_data.value: total
  custom_data.contents: { column: items, fields: { id: sku, quantity: qty, item_price: price } }
  custom_data.content_ids: skus
`);
    const result = await runCli(['preview', 'sf.yaml'], {
      cwd: work, env: { SNOWFLAKE_ACCOUNT: fake.account, SNOWFLAKE_PASSWORD: fake.password, PINSYNC_SNOWFLAKE_URL: fake.url },
    });
    expect(result.stderr).not.toContain(fake.password);
    expect(result.code).toBe(0);
    const event = JSON.parse(result.stdout.trim().split('\n')[0]!) as Record<string, any>;
    expect(event).toMatchObject({
      event_name: 'checkout', event_id: '101', event_time: (PURCHASED_AT - 250) / 1000,
      custom_data: { value: '19.99', content_ids: ['A1', 'B2'], contents: [{ id: 'A1', quantity: 2, item_price: '9.99' }] },
    });
    expect(existsSync(path.join(work, 'snowflake.log'))).toBe(false);
  });

  it('writes no snowflake.log in the working directory', async () => {
    await rows(open({ cursor: 'updated_at' }));
    expect(existsSync(path.join(process.cwd(), 'snowflake.log'))).toBe(false);
  });
});
