// The Redshift source against awkward real data and awkward failures, on the embedded PostgreSQL:
// keys and cursors that must round-trip through literals exactly, page edges at FETCH's limit,
// sync queries as users write them, a read abandoned or cut off, and no password in any message.
import { inspect } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RedshiftSourceConfig } from '../../src/config/schema.js';
import type { Row } from '../../src/core/types.js';
import { readAhead } from '../../src/engine/reader.js';
import { connectionLost } from '../../src/sources/redshift/errors.js';
import { RedshiftSource } from '../../src/sources/redshift/index.js';
import { SourceError, type Position } from '../../src/sources/types.js';
import { freshDatabase, withClient } from '../helpers/pg.js';

let url = '';
const opened: RedshiftSource[] = [];
function open(options: Partial<RedshiftSourceConfig>): RedshiftSource {
  const source = new RedshiftSource({ type: 'redshift', url, ssl: false, primary_key: 'id', ...options } as RedshiftSourceConfig);
  opened.push(source);
  return source;
}

async function readRows(source: RedshiftSource, options: { after?: Position; pageSize?: number } = {}) {
  const pages: number[] = [];
  const rows: Row[] = [];
  const key = (source as unknown as { config: { primary_key: string } }).config.primary_key;
  for await (const page of source.read({ columns: [key], ...options })) {
    pages.push(page.length);
    rows.push(...page);
  }
  return { pages, rows, ids: rows.map((r) => r[0]) };
}

/** Reads once, then resumes from every row's position and expects exactly the rows after it. */
async function resumesFromEveryRow(source: RedshiftSource, expected: unknown[]) {
  const all = await readRows(source);
  expect(all.ids).toEqual(expected);
  const positions = all.rows.map((r) => source.positionOf(r));
  for (const [i, after] of positions.entries()) {
    expect((await readRows(source, { after })).ids, `after row ${i}`).toEqual(expected.slice(i + 1));
  }
}

function processId(source: RedshiftSource): number {
  return (source as unknown as { client: { processID: number } }).client.processID;
}

beforeAll(async () => {
  url = await freshDatabase('redshift_adversary');
  await withClient(url, async (c) => {
    await c.query(`CREATE TABLE texts (id varchar(65535), at timestamptz)`);
    const keys = ['', ' ', 'a', 'a ', "'", "''", '\\', '\\\\', "\\'", "'\\", "x' OR '1'='1", "x'); DROP TABLE texts; --", '$1', '$$', '\\x41', '\\n',
      'line\nbreak', 'tab\there', '\u00e9', 'e\u0301', '日本語', '🎉', '🎉🎉', 'Ω≈ç√', '\u{10FFFF}', 'a'.repeat(5000), 'b'.repeat(5000) + "'\\"];
    for (const [i, key] of keys.entries()) await c.query(`INSERT INTO texts VALUES ($1, timestamptz '2026-01-01 00:00:00+00' + $2 * interval '1 microsecond')`, [key, i % 3]);
    await c.query(`CREATE TABLE big (id bigint, n numeric(38,0))`);
    await c.query(`INSERT INTO big VALUES (-9223372036854775808, -99999999999999999999999999999999999999), (-1, 0), (9007199254740991, 9007199254740993),
      (9007199254740992, 9007199254740994), (9007199254740993, 9007199254740995), (9223372036854775806, 10000000000000000000000000000000000000),
      (9223372036854775807, 99999999999999999999999999999999999999)`);
    await c.query(`CREATE TABLE times (id integer, tz timestamptz, plain timestamp, day date)`);
    // Microsecond ties: several rows per instant, instants one microsecond apart, a leap day, before 1970, far future.
    await c.query(`INSERT INTO times SELECT i, timestamptz '2024-02-29 23:59:59.999998+00' + (i / 3) * interval '1 microsecond',
      timestamp '2024-02-29 23:59:59.999998' + (i / 3) * interval '1 microsecond', date '2024-02-29' + (i / 5) FROM generate_series(1, 12) i`);
    await c.query(`INSERT INTO times VALUES (13, '1969-12-31 23:59:59.999999+00', '1969-12-31 23:59:59.999999', '1969-12-31'),
      (14, '9999-12-31 23:59:59.999999+00', '9999-12-31 23:59:59.999999', '9999-12-31'), (15, '2024-06-01 12:00:00.5+05:30', '2024-06-01 12:00:00.5', '2024-06-01')`);
    for (const n of [999, 1000, 1001, 2000, 2001]) {
      await c.query(`CREATE TABLE rows_${n} AS SELECT i AS id, timestamptz '2026-01-01 00:00:00+00' + (i / 7) * interval '1 second' AS at FROM generate_series(1, ${n}) i`);
    }
    await c.query(`INSERT INTO times VALUES (16, '0044-03-15 12:00:00.000001+00 BC', '0044-03-15 12:00:00.000001 BC', '0044-03-15 BC')`);
    await c.query(`CREATE TABLE "we""ird" ("k""ey" char(4), "Ünï code" date, "select" integer)`);
    await c.query(`INSERT INTO "we""ird" VALUES ('a', '2026-01-01', 1), ('a b', '2026-01-01', 2), ('b', '2026-01-01', 3), ('''', '2026-01-02', 4), ('\\', '2026-01-02', 5)`);
    await c.query(`CREATE TABLE holes (id integer, at timestamptz)`);
    await c.query(`INSERT INTO holes VALUES (1, '2026-01-01'), (NULL, '2026-01-02'), (3, NULL), (NULL, NULL), (5, '2026-01-03')`);
    await c.query(`CREATE TABLE huge AS SELECT i AS id, timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second' AS at FROM generate_series(1, 20000) i`);
  });
});

afterEach(async () => {
  for (const source of opened.splice(0)) await source.close();
});

describe('the Redshift source against awkward data', () => {
  it('resumes exactly after keys with quotes, backslashes, unicode, line breaks and 5,000 characters', async () => {
    const expected = (await withClient(url, (c) => c.query<{ id: string }>('SELECT id FROM texts ORDER BY id'))).rows.map((r) => r.id);
    await resumesFromEveryRow(open({ table: 'texts' }), expected);
  });

  it('resumes exactly after text keys tied on a microsecond cursor', async () => {
    const expected = (await withClient(url, (c) => c.query<{ id: string }>('SELECT id FROM texts ORDER BY at, id'))).rows.map((r) => r.id);
    await resumesFromEveryRow(open({ table: 'texts', cursor: 'at' }), expected);
  });

  it('keeps bigint and numeric(38,0) keys beyond 2^53 exact, and resumes between neighbours', async () => {
    const ids = ['-9223372036854775808', '-1', '9007199254740991', '9007199254740992', '9007199254740993', '9223372036854775806', '9223372036854775807'];
    await resumesFromEveryRow(open({ table: 'big' }), ids);
    const numbers = (await withClient(url, (c) => c.query<{ n: string }>('SELECT n::text AS n FROM big ORDER BY big.n'))).rows.map((r) => r.n);
    await resumesFromEveryRow(open({ table: 'big', primary_key: 'n' }), numbers);
    await resumesFromEveryRow(open({ table: undefined, query: 'SELECT n AS id FROM big', primary_key: 'id' }), numbers);
  });

  for (const cursor of ['tz', 'plain', 'day']) {
    it(`resumes exactly on a ${cursor} cursor with rows tied to the microsecond`, async () => {
      const expected = (await withClient(url, (c) => c.query<{ id: number }>(`SELECT id FROM times ORDER BY ${cursor}, id`))).rows.map((r) => r.id);
      const source = open({ table: 'times', cursor });
      await resumesFromEveryRow(source, expected);
      for (const pageSize of [1, 2, 3]) expect((await readRows(source, { pageSize })).ids).toEqual(expected);
    });
  }

  it('reads the same timestamps whatever time zone and DateStyle the database defaults to', async () => {
    await withClient(url, (c) => c.query(`ALTER DATABASE redshift_adversary SET timezone TO 'Asia/Kolkata'`).then(() => c.query(`ALTER DATABASE redshift_adversary SET datestyle TO 'SQL, DMY'`)));
    try {
      const source = open({ table: 'times', cursor: 'tz' });
      const { rows } = await readRows(source);
      const position = source.positionOf(rows.find((r) => r[0] === 15)!);
      expect(position).toEqual({ cursor: '2024-06-01 06:30:00.5+00', key: '15' });
      const expected = (await withClient(url, (c) => c.query<{ id: number }>('SELECT id FROM times ORDER BY tz, id'))).rows.map((r) => r.id);
      await resumesFromEveryRow(open({ table: 'times', cursor: 'plain' }), (await withClient(url, (c) => c.query<{ id: number }>('SELECT id FROM times ORDER BY plain, id'))).rows.map((r) => r.id));
      expect((await readRows(source, { after: position })).ids).toEqual(expected.slice(expected.indexOf(15) + 1));
    } finally {
      await withClient(url, (c) => c.query('ALTER DATABASE redshift_adversary RESET ALL'));
    }
  });

  for (const n of [999, 1000, 1001, 2000, 2001]) {
    it(`reads ${n} rows whole at page sizes around FETCH's 1,000`, async () => {
      const source = open({ table: `rows_${n}`, cursor: 'at' });
      const all = Array.from({ length: n }, (_, i) => i + 1);
      for (const pageSize of [999, 1000, 1001, 2000, 5000]) {
        const { pages, ids } = await readRows(source, { pageSize });
        expect(ids, `page size ${pageSize}`).toEqual(all);
        expect(pages.slice(0, -1).every((p) => p === pageSize)).toBe(true);
      }
      const { rows } = await readRows(source, { pageSize: 1000 });
      // Resuming at each page edge gives exactly the rest.
      for (const at of [998, 999, 1000, 1001, n - 1].filter((i) => i < n)) {
        expect((await readRows(source, { after: source.positionOf(rows[at - 1]!) })).ids, `after ${at}`).toEqual(all.slice(at));
      }
    });
  }

  it('quotes awkward table and column names, and resumes on padded char keys', async () => {
    const expected = (await withClient(url, (c) => c.query<{ k: string }>('SELECT "k""ey" AS k FROM "we""ird" ORDER BY "Ünï code", "k""ey"'))).rows.map((r) => r.k);
    await resumesFromEveryRow(open({ table: 'we"ird', primary_key: 'k"ey', cursor: 'Ünï code' }), expected);
  });

  it('leaves out and counts rows with a null key or cursor', async () => {
    const source = open({ table: 'holes', cursor: 'at' });
    expect((await readRows(source)).ids).toEqual([1, 5]);
    expect(await source.unreadableRows()).toEqual({ missing: 3, future: 0 });
    const keyOnly = open({ table: 'holes' });
    expect((await readRows(keyOnly)).ids).toEqual([1, 3, 5]);
    expect(await keyOnly.unreadableRows()).toEqual({ missing: 2, future: 0 });
  });
});

describe('sync queries as users write them', () => {
  const queries: [string, string][] = [
    ['a leading comment', '-- orders\nSELECT id, at FROM rows_999'],
    ['a trailing comment', 'SELECT id, at FROM rows_999 -- all of them'],
    ['a block comment', 'SELECT id, /* the key */ at FROM rows_999 /* end */'],
    ['a trailing semicolon', 'SELECT id, at FROM rows_999;'],
    ['a semicolon and spaces', 'SELECT id, at FROM rows_999 ;  \n\t'],
    ['a CTE', 'WITH r AS (SELECT id, at FROM rows_999) SELECT * FROM r'],
    ['$1 in a literal', "SELECT id, at, '$1' AS note FROM rows_999 WHERE '$1' = '$1'"],
    ['a question mark and a percent', "SELECT id, at, '?%s' AS note FROM rows_999"],
    ['its own ORDER BY and LIMIT', 'SELECT id, at FROM rows_999 ORDER BY id DESC LIMIT 999'],
  ];
  for (const [what, query] of queries) {
    it(`reads a query with ${what}`, async () => {
      const source = open({ table: undefined, query, cursor: 'at' });
      const { ids, rows } = await readRows(source, { pageSize: 400 });
      expect(ids).toEqual(Array.from({ length: 999 }, (_, i) => i + 1));
      expect((await readRows(source, { after: source.positionOf(rows[499]!) })).ids).toHaveLength(499);
      expect(await source.unreadableRows('2027-01-01 00:00:00+00')).toEqual({ missing: 0, future: 0 });
      expect((await source.checkKey(100)).most).toBe(1);
    });
  }
});

describe('a read cut short', () => {
  it('rolls back a huge read abandoned part-way, and the session serves counts and a new read', async () => {
    const source = open({ table: 'huge', cursor: 'at' });
    let pages = 0;
    for await (const page of source.read({ columns: ['id'], pageSize: 1500 })) {
      expect(page).toHaveLength(1500);
      if (++pages === 2) break;
    }
    const pid = processId(source);
    const state = await withClient(url, (c) => c.query<{ state: string }>('SELECT state FROM pg_stat_activity WHERE pid = $1', [pid]));
    expect(state.rows[0]!.state).toBe('idle');
    expect(await source.unreadableRows()).toEqual({ missing: 0, future: 0 });
    expect((await readRows(source, { pageSize: 20000 })).ids).toHaveLength(20000);
  });

  it('closes the cursor when a reader that reads ahead (the engine\'s) stops with the next page in flight', async () => {
    const source = open({ table: 'huge', cursor: 'at' });
    for await (const page of readAhead(source.read({ columns: ['id'], pageSize: 3000 }))) {
      expect(page).toHaveLength(3000);
      break;
    }
    const pid = processId(source);
    const state = await withClient(url, (c) => c.query<{ state: string; query: string }>('SELECT state, query FROM pg_stat_activity WHERE pid = $1', [pid]));
    expect(state.rows[0]).toEqual({ state: 'idle', query: 'ROLLBACK' });
    expect((await readRows(source, { pageSize: 20000 })).ids).toHaveLength(20000);
  });

  it('calls a socket error after connecting (keepalive probes unanswered) a lost connection, not a failure to connect', () => {
    const timedOut = Object.assign(new Error('read ETIMEDOUT'), { code: 'ETIMEDOUT' });
    expect(connectionLost(timedOut, 'table huge')?.message).toMatch(/^the connection to Redshift was lost while reading the table huge \(read ETIMEDOUT\): run the sync again/);
    expect(connectionLost(Object.assign(new Error('syntax error'), { code: '42601' }), 'query')).toBeUndefined();
  });

  it('closes a source whose session the server ended while it was idle', async () => {
    const source = open({ table: 'rows_999' });
    await source.columnTypes();
    await withClient(url, (c) => c.query('SELECT pg_terminate_backend($1)', [processId(source)]));
    // A hang here fails the test at its timeout.
    await source.close();
  });

  it('says the connection was lost, in one sentence, when the server ends the session mid-read, and connects again for the next read', async () => {
    const source = open({ table: 'huge', cursor: 'at' });
    let pages = 0;
    const error = await (async () => {
      for await (const _ of source.read({ columns: ['id'], pageSize: 1000 })) {
        if (++pages === 2) await withClient(url, (c) => c.query('SELECT pg_terminate_backend($1)', [processId(source)]));
      }
    })().then(() => undefined, (e: unknown) => e as Error);
    expect(pages).toBe(2);
    expect(error).toBeInstanceOf(SourceError);
    expect(error!.message).toMatch(/^the connection to Redshift was lost while reading the table huge \([^\n]*\): run the sync again, it resumes from its last checkpoint; /);
    expect((await readRows(source, { pageSize: 20000 })).ids).toHaveLength(20000);
    // Ended while idle between statements: the next statement reports the loss the same way.
    await withClient(url, (c) => c.query('SELECT pg_terminate_backend($1)', [processId(source)]));
    await expect(source.unreadableRows()).rejects.toThrow(/^the connection to Redshift was lost while reading the table huge /);
    expect(await source.unreadableRows()).toEqual({ missing: 0, future: 0 });
  });
});

describe('an idle socket', () => {
  it('sends TCP keepalives after a minute of silence, not after the OS default of two hours', async () => {
    const source = open({ table: 'rows_999' });
    await source.columnTypes();
    // What pg hands to socket.setKeepAlive: 0 would leave the OS default, which a NAT gateway's idle timeout (350 s) undercuts.
    const connection = (source as unknown as { client: { connection: { _keepAlive: boolean; _keepAliveInitialDelayMillis: number } } }).client.connection;
    expect([connection._keepAlive, connection._keepAliveInitialDelayMillis]).toEqual([true, 60_000]);
  });
});

describe('a query the server cancels', () => {
  it('says a timeout cancelled it rather than that the SQL is wrong', async () => {
    // Redshift's statement_timeout and WLM timeouts cancel with SQLSTATE 57014, as PostgreSQL's statement_timeout does.
    await withClient(url, (c) => c.query(`ALTER DATABASE redshift_adversary SET statement_timeout TO '50ms'`));
    try {
      const source = open({ table: undefined, query: 'SELECT id, at FROM huge WHERE pg_sleep(5) IS NOT NULL', cursor: 'at' });
      const error = await readRows(source).then(() => undefined, (e: unknown) => e as Error);
      expect(error).toBeInstanceOf(SourceError);
      expect(error!.message).toMatch(/^Redshift cancelled the read of the query \(canceling statement due to statement timeout\): .*raise the limit for pinsync's user/);
    } finally {
      await withClient(url, (c) => c.query('ALTER DATABASE redshift_adversary RESET statement_timeout'));
    }
  });
});

describe('secrets', () => {
  const password = 'Sup3r-s3cret-pw';
  const variants = (): [string, string][] => {
    const u = new URL(url);
    const at = (change: (x: URL) => void) => {
      const x = new URL(u.toString());
      change(x);
      return x.toString();
    };
    return [
      ['a refused port', at((x) => { x.password = password; x.port = '1'; })],
      ['a wrong password', at((x) => { x.password = password; })],
      ['a password with an unencoded slash', `postgres://${u.username}:${password}/x@${u.host}/redshift_adversary`],
      ['a password with an unencoded hash', `postgres://${u.username}:${password}#x@${u.host}/redshift_adversary`],
      ['the console\'s JDBC url', `jdbc:redshift://${u.host}/redshift_adversary;UID=${u.username};PWD=${password}`],
      ['an endpoint without a scheme', `${u.username}:${password}@${u.host}/redshift_adversary`],
      ['a password with an unencoded percent', `postgres://${u.username}:${password}%zz@${u.host}/redshift_adversary`],
    ];
  };
  it('never shows the password of a url in an error, and says how to write a url pg cannot read', async () => {
    for (const [what, bad] of variants()) {
      const error = await open({ url: bad, table: 'texts' }).columnTypes().then(() => undefined, (e: unknown) => e as Error);
      expect(error, what).toBeInstanceOf(SourceError);
      expect(`${error!.message} ${error!.stack} ${inspect(error)}`, what).not.toContain(password);
      if (/JDBC|scheme/.test(what)) expect(error!.message, what).toMatch(/^source\.url is not a postgres:\/\/ connection string: write it as postgres:\/\/user:password@endpoint:5439\/dev \(from a JDBC url, replace jdbc:redshift:\/\/ with postgres:\/\//);
      if (/unencoded (slash|hash)/.test(what)) {
        expect(error!.message, what).toMatch(/^source\.url is not a connection string \(Invalid URL\): write it as postgres:\/\/user:password@host:5439\/database, .*percent-encoded$/);
      }
    }
  });
});
