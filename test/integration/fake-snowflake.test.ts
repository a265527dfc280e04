// The Snowflake stand-in, driven by the real snowflake-sdk (no pinsync code): each way to log in, a
// result in several chunks, each type as the driver parses it, the errors a user meets.
import { createHash, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import snowflake from 'snowflake-sdk';
import { FakeSnowflake } from '../helpers/fake-snowflake.js';

// No snowflake.log in the cwd, no console noise, and no probes of cloud metadata endpoints at login.
snowflake.configure({ logLevel: 'OFF' });
process.env.SNOWFLAKE_DISABLE_PLATFORM_DETECTION = 'true';
process.env.SF_TELEMETRY_DISABLE_CONNECTION_SHAPE = 'true';

let fake: FakeSnowflake;

beforeAll(async () => {
  fake = await new FakeSnowflake({ chunkRows: 1000 }).start();
  await fake.exec('CREATE SCHEMA analytics');
  await fake.exec('CREATE TABLE analytics.orders (id BIGINT, updated_at TIMESTAMP, email VARCHAR, total DECIMAL(38, 2))');
  await fake.exec(`INSERT INTO analytics.orders SELECT i, TIMESTAMP '2026-01-01 00:00:00' + to_microseconds(i * 1000001), 'u' || i || '@example.com', i / 100 FROM range(5000) t(i)`);
  // DuckDB names are case-insensitive: a quoted mixed-case table cannot sit beside its upper-case twin.
  await fake.exec('CREATE SCHEMA sales; CREATE TABLE sales."Orders" (id BIGINT, email VARCHAR)');
  await fake.exec(`INSERT INTO sales."Orders" VALUES (1, 'a@example.com')`);
  await fake.exec('CREATE TABLE analytics.secrets (id BIGINT)');
  await fake.exec(`CREATE TABLE analytics.types (
    n DECIMAL(10, 2), i BIGINT, f DOUBLE, t VARCHAR, b BOOLEAN, d DATE, tm TIME, ntz TIMESTAMP_NS, ltz TIMESTAMPTZ,
    v JSON, a INTEGER[], o STRUCT(k VARCHAR), bin BLOB)`);
  await fake.exec(`INSERT INTO analytics.types VALUES (12.34, 42, 1.5, 'héllo', true, DATE '2024-02-29', TIME '13:14:15.123456',
    TIMESTAMP_NS '2026-11-20 10:00:00.123456789', TIMESTAMPTZ '2026-11-20 10:00:00.123456+00', '{"a":[1,2]}', [1, 2], {'k': 'v'}, '\\xDE\\xAD'::BLOB),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`);
});

afterAll(async () => {
  await fake.stop();
});

type Options = Partial<snowflake.ConnectionOptions> & Record<string, unknown>;

function connection(extra: Options = {}): snowflake.Connection {
  return snowflake.createConnection({
    account: fake.account, username: fake.user, password: fake.password, accessUrl: fake.url,
    warehouse: 'PINSYNC_WH', database: 'PINSYNC_DB', schema: 'ANALYTICS', ...extra,
  } as snowflake.ConnectionOptions);
}

// connectAsync hands a failed login to its callback rather than rejecting.
function login(extra: Options): Promise<{ c: snowflake.Connection; error?: snowflake.SnowflakeError }> {
  const c = connection(extra);
  return new Promise((resolve, reject) => {
    c.connectAsync((error) => resolve({ c, error: error ?? undefined })).catch(reject);
  });
}

async function connect(extra: Options = {}): Promise<snowflake.Connection> {
  const { c, error } = await login(extra);
  if (error) throw error;
  return c;
}

async function loginError(extra: Options): Promise<snowflake.SnowflakeError> {
  const { error } = await login(extra);
  if (!error) throw new Error('login worked');
  return error;
}

function stream(c: snowflake.Connection, sqlText: string, binds: snowflake.Binds = [], extra: Record<string, unknown> = {}): Promise<Record<string, any>[]> {
  return new Promise((resolve, reject) => {
    c.execute({
      sqlText, binds, streamResult: true, ...extra,
      complete: (err, statement) => {
        if (err) return reject(err);
        const rows: Record<string, any>[] = [];
        statement.streamRows().on('data', (row: Record<string, any>) => rows.push(row)).on('error', reject).on('end', () => resolve(rows));
      },
    });
  });
}

function failure(c: snowflake.Connection, sqlText: string, binds: snowflake.Binds = [], extra: Record<string, unknown> = {}): Promise<snowflake.SnowflakeError> {
  return stream(c, sqlText, binds, extra).then(() => { throw new Error('query worked'); }, (e: snowflake.SnowflakeError) => e);
}

function destroy(c: snowflake.Connection): Promise<void> {
  return new Promise((resolve, reject) => c.destroy((err) => (err ? reject(err) : resolve())));
}

describe('fake snowflake: logins', () => {
  it('logs in with a password, streams a result in chunks, closes the session', async () => {
    const c = await connect();
    const closed = fake.sessions.closed;
    const before = fake.chunkDownloads;
    const rows = await stream(c, 'SELECT id, updated_at, email, total FROM analytics.orders WHERE id >= ? ORDER BY id', [0]);
    expect(rows).toHaveLength(5000);
    expect(rows.map((r) => r.ID)).toEqual([...Array(5000).keys()]);
    expect(rows[4999]).toMatchObject({ ID: 4999, EMAIL: 'u4999@example.com', TOTAL: 49.99 });
    expect(fake.chunkDownloads - before).toBe(4);
    expect(fake.queries.at(-1)).toMatchObject({ warehouse: 'PINSYNC_WH', database: 'PINSYNC_DB', schema: 'ANALYTICS', describeOnly: false });
    // isValidAsync is a heartbeat.
    expect(await c.isValidAsync()).toBe(true);
    expect(fake.requests.at(-1)!.path).toBe('/session/heartbeat');
    await destroy(c);
    expect(fake.sessions.closed).toBe(closed + 1);
  });

  it('logs in with a key pair, plain or encrypted, and refuses another key', async () => {
    const c = await connect({ authenticator: 'SNOWFLAKE_JWT', password: undefined, privateKey: fake.privateKeyPem });
    expect(await stream(c, 'SELECT 1 AS one')).toEqual([{ ONE: 1 }]);
    await destroy(c);
    const e = await connect({ authenticator: 'SNOWFLAKE_JWT', password: undefined, privateKey: fake.encryptedPrivateKeyPem('s3cret'), privateKeyPass: 's3cret' });
    await destroy(e);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const error = await loginError({ authenticator: 'SNOWFLAKE_JWT', password: undefined, privateKey: other });
    expect(error.code).toBe('390144');
    expect(error.message).toBe('JWT token is invalid.');
  });

  it('checks the JWT signature, not only its claims', async () => {
    // A token claiming the registered key's fingerprint but signed by another key: what no driver sends.
    const fingerprint = createHash('sha256').update(createPublicKey(fake.privateKeyPem).export({ format: 'der', type: 'spki' })).digest('base64');
    const who = `${fake.account.toUpperCase()}.${fake.user}`;
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const unsigned = `${part({ alg: 'RS256', typ: 'JWT' })}.${part({ iss: `${who}.SHA256:${fingerprint}`, sub: who, iat: Date.now(), exp: Date.now() + 60_000 })}`;
    const forge = (key: string) => `${unsigned}.${sign('RSA-SHA256', Buffer.from(unsigned), key).toString('base64url')}`;
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const login = async (token: string) => {
      const response = await fetch(`${fake.url}/session/v1/login-request`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: { ACCOUNT_NAME: fake.account, LOGIN_NAME: fake.user, AUTHENTICATOR: 'SNOWFLAKE_JWT', TOKEN: token } }),
      });
      return (await response.json()) as { success: boolean; code: string | null };
    };
    expect(await login(forge(other))).toMatchObject({ success: false, code: '390144' });
    expect(await login(forge(fake.privateKeyPem))).toMatchObject({ success: true });
  });

  it('logs in with an OAuth token and refuses a bad one', async () => {
    const c = await connect({ authenticator: 'OAUTH', password: undefined, token: fake.oauthToken });
    await destroy(c);
    const error = await loginError({ authenticator: 'OAUTH', password: undefined, token: 'nope' });
    expect(error.code).toBe('390303');
  });

  it('refuses a wrong password, and an unknown account with HTTP 403, as Snowflake does', async () => {
    const wrong = await loginError({ password: 'wrong' });
    expect(wrong.code).toBe('390100');
    expect(wrong.message).toBe('Incorrect username or password was specified.');
    const unknown = await loginError({ account: 'other-account' });
    expect([unknown.code, unknown.message]).toEqual([401002, 'Request to Snowflake failed.']);
  });
});

describe('fake snowflake: errors', () => {
  let c: snowflake.Connection;
  beforeAll(async () => { c = await connect(); });
  afterAll(async () => { await destroy(c); fake.deniedTables.clear(); fake.queryDelayMs = 0; });

  it('needs a warehouse', async () => {
    const noWarehouse = await connect({ warehouse: 'NOT_A_WH' });
    const error = await failure(noWarehouse, 'SELECT id FROM analytics.orders');
    expect(error.code).toBe('000606');
    expect(error.sqlState).toBe('57P03');
    expect(error.message).toMatch(/^No active warehouse selected in the current session/);
    await destroy(noWarehouse);
  });

  it('answers a table the role may not read, a syntax error and an unknown table', async () => {
    fake.deniedTables.add('SECRETS');
    const denied = await failure(c, 'SELECT id FROM analytics.secrets');
    expect(denied.code).toBe('002003');
    expect(denied.message).toBe("SQL compilation error:\nObject 'ANALYTICS.SECRETS' does not exist or not authorized.");
    expect((await failure(c, 'SELEC id FROM analytics.orders')).code).toBe('001003');
    expect((await failure(c, 'SELECT id FROM analytics.nope')).code).toBe('002003');
  });

  it('matches quoted names exactly and unquoted ones in any case', async () => {
    expect(await stream(c, 'SELECT "EMAIL" FROM sales."Orders"')).toEqual([{ EMAIL: 'a@example.com' }]);
    expect(await stream(c, 'SELECT email FROM SALES."Orders"')).toEqual([{ EMAIL: 'a@example.com' }]);
    const column = await failure(c, 'SELECT "email" FROM sales."Orders"');
    expect(column.code).toBe('000904');
    expect(column.message).toMatch(/invalid identifier '"email"'/);
    const table = await failure(c, 'SELECT "EMAIL" FROM sales."ORDERS"');
    expect(table.code).toBe('002003');
  });

  it('times a statement out after STATEMENT_TIMEOUT_IN_SECONDS', async () => {
    fake.queryDelayMs = 1500;
    fake.asyncAfterMs = 5000;
    const t = await connect();
    await stream(t, 'ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = 1');
    const error = await failure(t, 'SELECT id FROM analytics.orders LIMIT 1');
    expect(error.code).toBe('000630');
    expect(error.message).toBe('Statement reached its statement or warehouse timeout of 1 second(s) and was canceled.');
    fake.queryDelayMs = 0;
    fake.asyncAfterMs = 1000;
    await destroy(t);
  });

  it('times out a query the driver fetches asynchronously', async () => {
    fake.queryDelayMs = 1500;
    fake.asyncAfterMs = 100;
    const t = await connect();
    try {
      const error = await failure(t, 'SELECT id FROM analytics.orders LIMIT 1', [], { parameters: { STATEMENT_TIMEOUT_IN_SECONDS: 1 } });
      expect(error.code).toBe('000630');
    } finally {
      fake.queryDelayMs = 0;
      fake.asyncAfterMs = 1000;
      await destroy(t);
    }
  });

  it('refuses two statements in one query text by default', async () => {
    const error = await failure(c, 'SELECT 1; SELECT 2');
    expect(error.code).toBe('000008');
    expect(error.message).toBe('Actual statement count 2 did not match the desired statement count 1.');
  });
});

describe('fake snowflake: queries', () => {
  let c: snowflake.Connection;
  beforeAll(async () => { c = await connect(); });
  afterAll(async () => { await destroy(c); });

  it('binds numbered parameters and records the query tag and session parameters', async () => {
    const rows = await stream(c, 'SELECT id FROM analytics.orders WHERE id > :1 AND email <> :2 ORDER BY id LIMIT 2', [10, 'x'], { parameters: { QUERY_TAG: 'pinsync:test' } });
    expect(rows).toEqual([{ ID: 11 }, { ID: 12 }]);
    expect(fake.queries.at(-1)).toMatchObject({ queryTag: 'pinsync:test', binds: { 1: { type: 'FIXED', value: '10' }, 2: { type: 'TEXT', value: 'x' } } });
    await stream(c, "ALTER SESSION SET TIMEZONE = 'UTC', QUERY_TAG = 'session-tag'");
    await stream(c, 'SELECT 1');
    expect(fake.queries.at(-1)!.parameters).toMatchObject({ TIMEZONE: 'UTC', QUERY_TAG: 'session-tag' });
    expect(fake.queries.at(-1)!.queryTag).toBe('session-tag');
    await stream(c, 'ALTER SESSION UNSET TIMEZONE, QUERY_TAG');
  });

  it('describes a query without running it', async () => {
    const columns = await new Promise<snowflake.Column[]>((resolve, reject) => {
      c.execute({
        sqlText: 'SELECT id, updated_at, total FROM analytics.orders', describeOnly: true,
        complete: (err, statement) => (err ? reject(err) : resolve(statement.getColumns()!)),
      });
    });
    expect(columns.map((col) => [col.getName(), col.getType(), col.getScale()])).toEqual([['ID', 'fixed', 0], ['UPDATED_AT', 'timestamp_ntz', 9], ['TOTAL', 'fixed', 2]]);
    expect(fake.queries.at(-1)!.describeOnly).toBe(true);
  });

  it('tells the driver which statements write (statementTypeId), as Snowflake does', async () => {
    const updated = (sqlText: string) => new Promise<number>((resolve, reject) => {
      c.execute({ sqlText, complete: (err, statement) => (err ? reject(err) : resolve(statement.getNumUpdatedRows()!)) });
    });
    await fake.exec('CREATE TABLE analytics.scratch (id BIGINT)');
    expect(await updated('INSERT INTO analytics.scratch VALUES (1), (2)')).toBe(2);
    expect(await updated('SELECT id FROM analytics.scratch')).toBe(-1);
  });

  it('fetches a long query asynchronously', async () => {
    fake.asyncAfterMs = 50;
    fake.queryDelayMs = 150;
    try {
      const before = fake.requests.length;
      expect(await stream(c, 'SELECT id FROM analytics.orders ORDER BY id LIMIT 3')).toEqual([{ ID: 0 }, { ID: 1 }, { ID: 2 }]);
      expect(fake.requests.slice(before).some((r) => /^\/queries\/[^/]+\/result$/.test(r.path))).toBe(true);
    } finally {
      fake.queryDelayMs = 0;
      fake.asyncAfterMs = 1000;
    }
  });
});

describe('fake snowflake: types', () => {
  let c: snowflake.Connection;
  beforeAll(async () => { c = await connect(); });
  afterAll(async () => { await destroy(c); fake.timestampTzColumns.clear(); });

  it('sends each type as Snowflake does, parsed by the driver', async () => {
    fake.timestampTzColumns.set('TZ', null);
    const [row, nulls] = await stream(c, 'SELECT *, ltz AS tz FROM analytics.types ORDER BY n NULLS LAST');
    expect(row).toMatchObject({ N: 12.34, I: 42, F: 1.5, T: 'héllo', B: true, TM: '13:14:15', V: { a: [1, 2] }, A: [1, 2], O: { k: 'v' } });
    expect(row!.D.toISOString()).toBe('2024-02-29T00:00:00.000Z');
    expect(row!.NTZ.getEpochSeconds()).toBe(Date.UTC(2026, 10, 20, 10) / 1000);
    expect(row!.NTZ.getNanoSeconds()).toBe(123456789);
    expect(row!.NTZ.toJSON()).toBe('2026-11-20 10:00:00.123');
    expect(row!.LTZ.getNanoSeconds()).toBe(123456000);
    expect(row!.LTZ.getTimezone()).toBe('America/Los_Angeles');
    expect(row!.LTZ.toJSON()).toBe('2026-11-20 02:00:00.123 -0800');
    expect(row!.TZ.getTimezone()).toBe(-480);
    expect(row!.TZ.toJSON()).toBe('2026-11-20 02:00:00.123 -0800');
    expect((row!.BIN as Buffer).toString('hex')).toBe('dead');
    // The driver hands a null TIME back as the text 'NULL' (column.js, toValueFromTime), as it does from Snowflake.
    expect(Object.entries(nulls!).filter(([, v]) => v !== null)).toEqual([['TM', 'NULL']]);
  });

  it('casts to text under the session output formats and time zone, milliseconds by default', async () => {
    const sql = 'SELECT CAST(ntz AS VARCHAR), CAST(ltz AS VARCHAR) AS ltz_text, CAST(d AS VARCHAR), CAST(n AS VARCHAR) FROM analytics.types WHERE n IS NOT NULL';
    expect(await stream(c, sql)).toEqual([{
      'CAST(NTZ AS VARCHAR)': '2026-11-20 10:00:00.123', LTZ_TEXT: '2026-11-20 02:00:00.123 -0800', 'CAST(D AS VARCHAR)': '2024-02-29', 'CAST(N AS VARCHAR)': '12.34',
    }]);
    const s = await connect();
    await stream(s, "ALTER SESSION SET TIMEZONE = 'UTC', TIMESTAMP_NTZ_OUTPUT_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF9', TIMESTAMP_LTZ_OUTPUT_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF9 TZH:TZM'");
    const [row] = await stream(s, 'SELECT CAST(ntz AS VARCHAR) AS a, CAST(ltz AS VARCHAR) AS b, ntz, ltz FROM analytics.types WHERE n IS NOT NULL');
    expect(row).toMatchObject({ A: '2026-11-20 10:00:00.123456789', B: '2026-11-20 10:00:00.123456000 +00:00' });
    // The driver formats with the same parameters: the stand-in's text agrees with it.
    expect(row!.NTZ.toJSON()).toBe(row!.A);
    expect(row!.LTZ.toJSON()).toBe(row!.B);
    await destroy(s);
  });

  it('gives TIMESTAMP_TZ values their own offset, on the wire and as text', async () => {
    fake.timestampTzColumns.set('TZ2', 120);
    const [row] = await stream(c, `SELECT tz2, CAST(tz2 AS VARCHAR) AS tz2_text FROM (SELECT ltz AS tz2 FROM analytics.types WHERE n IS NOT NULL)`, [],
      { parameters: { TIMESTAMP_TZ_OUTPUT_FORMAT: 'YYYY-MM-DD HH24:MI:SS.FF9 TZH:TZM' } });
    expect(row!.TZ2.getTimezone()).toBe(120);
    expect(row!.TZ2.toJSON()).toBe('2026-11-20 12:00:00.123456000 +02:00');
    expect(row!.TZ2_TEXT).toBe(row!.TZ2.toJSON());
  });

  it('answers concurrent queries of one session, each under its own parameters', async () => {
    const sql = 'SELECT CAST(ltz AS VARCHAR) AS s FROM analytics.types WHERE n IS NOT NULL';
    const zones = ['UTC', 'Asia/Tokyo', 'America/New_York'];
    const answers = await Promise.all(zones.map((TIMEZONE) => stream(c, sql, [], { parameters: { TIMEZONE, TIMESTAMP_LTZ_OUTPUT_FORMAT: 'YYYY-MM-DD HH24:MI:SS TZH:TZM' } })));
    expect(answers.map(([row]) => row!.S)).toEqual(['2026-11-20 10:00:00 +00:00', '2026-11-20 19:00:00 +09:00', '2026-11-20 05:00:00 -05:00']);
  });

  it('compares a cursor bound as text cast to the column types', async () => {
    const rows = await stream(c, `SELECT id, CAST(updated_at AS VARCHAR) AS cursor FROM analytics.orders
      WHERE (updated_at > CAST(? AS TIMESTAMP_NTZ(9)) OR (updated_at = CAST(? AS TIMESTAMP_NTZ(9)) AND id > CAST(? AS NUMBER(38, 0))))
      ORDER BY updated_at, id LIMIT 2`, ['2026-01-01 00:00:01.000001', '2026-01-01 00:00:01.000001', '0']);
    expect(rows).toEqual([{ ID: 1, CURSOR: '2026-01-01 00:00:01.000' }, { ID: 2, CURSOR: '2026-01-01 00:00:02.000' }]);
    // A TIMESTAMP_LTZ cursor as 'YYYY-MM-DD HH24:MI:SS.FF9 TZH:TZM' writes it: a space before the offset.
    const ltz = await stream(c, 'SELECT n FROM analytics.types WHERE ltz >= CAST(? AS TIMESTAMP_LTZ(9)) AND ltz < CAST(? AS TIMESTAMP_LTZ(9))',
      ['2026-11-20 10:00:00.123456000 +00:00', '2026-11-20 02:00:00.123457000 -08:00']);
    expect(ltz).toEqual([{ N: 12.34 }]);
  });
});
