// What is the Redshift source's own, on the embedded PostgreSQL (the contract suite covers the rest):
// the read goes through DECLARE/FETCH in a READ ONLY transaction, FETCH counts stay within Redshift's
// limit, only SQL that Redshift documents is sent, and each error a user meets is one sentence with its fix.
import { createServer, type Server } from 'node:net';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RedshiftSourceConfig } from '../../src/config/schema.js';
import { RefusedQueryError, SourceError } from '../../src/core/errors.js';
import { FETCH_MAX, RedshiftSource } from '../../src/sources/redshift/index.js';
import type { Row } from '../../src/core/types.js';
import type { Source } from '../../src/sources/types.js';
import { freshDatabase, withClient } from '../helpers/pg.js';

const ROWS = 3000;
const READER = 'pinsync_rs_reader';

let url = '';
const opened: Source[] = [];
function open(options: Partial<RedshiftSourceConfig> = {}, known?: [string, string][]): RedshiftSource {
  const source = new RedshiftSource({ type: 'redshift', url, ssl: false, primary_key: 'id', table: 'analytics.orders', cursor: 'updated_at', ...options } as RedshiftSourceConfig, known);
  opened.push(source);
  return source;
}

// Every statement pinsync's clients send (application_name 'pinsync'), with the client that sent it.
const sent: { text: string; client: pg.Client }[] = [];
const originalQuery = pg.Client.prototype.query;
let recording = true;

async function readAll(source: Source, pageSize = 5000): Promise<{ pages: number[]; ids: unknown[] }> {
  const pages: number[] = [];
  const ids: unknown[] = [];
  for await (const page of source.read({ columns: ['id'], pageSize })) {
    pages.push(page.length);
    for (const row of page) ids.push(row[0]);
  }
  return { pages, ids };
}

/** The session of the source that sent the last statement, as a second connection sees it. */
async function session(): Promise<{ state: string; query: string }> {
  const pid = (sent.at(-1)!.client as unknown as { processID: number }).processID;
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ state: string; query: string }>('SELECT state, query FROM pg_stat_activity WHERE pid = $1', [pid]);
    expect(rows).toHaveLength(1);
    return rows[0]!;
  });
}

const texts = () => sent.map((s) => s.text);
const fetchCounts = () => texts().filter((t) => t.startsWith('FETCH')).map((t) => Number(/FETCH FORWARD (\d+) FROM pinsync_read$/.exec(t)![1]));

beforeAll(async () => {
  url = await freshDatabase('redshift_source');
  await withClient(url, async (c) => {
    await c.query('CREATE SCHEMA analytics');
    await c.query(`CREATE TABLE analytics.orders AS SELECT i AS id, timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second' AS updated_at FROM generate_series(1, ${ROWS}) i`);
    await c.query(`CREATE TABLE analytics.typed (id bigint, at timestamp, total numeric(38,10), items json, sku char(3), note varchar(20), paid boolean,
      ratio real, score double precision, n smallint, day date, t time, tz timetz)`);
    await c.query(`INSERT INTO analytics.typed VALUES (9007199254740993, '2026-11-20 10:00:00.123456', 12345678901234567890.0123456789, '[{"id":"A","quantity":2}]',
      'abc', 'x', true, 1.5, 2.5, 7, '2026-11-20', '10:00:00', '10:00:00+00')`);
    await c.query("CREATE TABLE analytics.keys AS SELECT unnest(ARRAY['a', 'a''b', 'a\\b', 'a\\''b', 'b\\\\', 'c''''', '$1', 'z']) AS id");
    await c.query('CREATE SEQUENCE analytics.s');
    await c.query(`DROP ROLE IF EXISTS ${READER}`);
    await c.query(`CREATE ROLE ${READER} LOGIN PASSWORD 'reader-test'`);
  });
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const config = args[0] as string | { text: string };
    const parameters = (this as unknown as { connectionParameters: { application_name?: string } }).connectionParameters;
    if (recording && parameters.application_name === 'pinsync') sent.push({ text: typeof config === 'string' ? config : config.text, client: this });
    return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof originalQuery;
});

afterEach(async () => {
  for (const source of opened.splice(0)) await source.close();
  sent.length = 0;
});

afterAll(async () => {
  pg.Client.prototype.query = originalQuery;
  await withClient(url, (c) => c.query(`DROP OWNED BY ${READER}; DROP ROLE ${READER}`));
});

describe('the Redshift source on PostgreSQL', () => {
  it('reads through one cursor in a READ ONLY transaction, at most 1,000 rows a FETCH, then closes it and rolls back', async () => {
    const source = open();
    await source.columnTypes();
    sent.length = 0;
    const pages: number[] = [];
    let inside: { readOnly: string; cursors: string } | undefined;
    let during: { state: string; query: string } | undefined;
    for await (const page of source.read({ columns: ['id'], pageSize: 2500 })) {
      pages.push(page.length);
      if (inside) continue;
      during = await session();
      // The source's own session between two pages: its transaction and its one open cursor.
      recording = false;
      const { rows } = await sent[0]!.client.query<{ readOnly: string; cursors: string }>(
        `SELECT current_setting('transaction_read_only') AS "readOnly", (SELECT string_agg(name, ',') FROM pg_cursors) AS cursors`);
      recording = true;
      inside = rows[0]!;
    }
    expect(pages).toEqual([2500, 500]);
    expect(inside).toEqual({ readOnly: 'on', cursors: 'pinsync_read' });
    expect(during).toEqual({ state: 'idle in transaction', query: 'FETCH FORWARD 500 FROM pinsync_read' });
    expect(texts()[0]).toBe('BEGIN READ ONLY');
    expect(texts()[1]).toMatch(/^DECLARE pinsync_read CURSOR FOR SELECT /);
    expect(fetchCounts()).toEqual([1000, 1000, 500, 1000]);
    expect(texts().slice(-2)).toEqual(['CLOSE pinsync_read', 'ROLLBACK']);
    expect(await session()).toEqual({ state: 'idle', query: 'ROLLBACK' });
  });

  it('asks FETCH for at most FETCH_MAX rows whatever the page size, and assembles pages of the size asked for', async () => {
    const { pages, ids } = await readAll(open(), 5000);
    expect(pages).toEqual([ROWS]);
    expect(ids).toEqual(Array.from({ length: ROWS }, (_, i) => i + 1));
    expect(Math.max(...fetchCounts())).toBe(FETCH_MAX);
    expect(FETCH_MAX).toBe(1000);
    const ones: number[] = [];
    for await (const page of open().read({ columns: ['id'], pageSize: 1 })) if (ones.push(page.length) === 3) break;
    expect(ones).toEqual([1, 1, 1]);
  });

  it('closes the cursor and rolls back when the reader stops early, and reads again on the same session', async () => {
    const source = open();
    for await (const page of source.read({ columns: ['id'], pageSize: 100 })) {
      expect(page).toHaveLength(100);
      break;
    }
    expect(texts().slice(-2)).toEqual(['CLOSE pinsync_read', 'ROLLBACK']);
    expect(await session()).toEqual({ state: 'idle', query: 'ROLLBACK' });
    expect((await readAll(source)).ids).toHaveLength(ROWS);
  });

  it('rolls back after an error in the middle of the read, says what failed, and reads again on the same session', async () => {
    const source = open({ table: undefined, query: 'SELECT id, updated_at FROM analytics.orders WHERE 1 / (id - 1500) > -2' });
    await expect(readAll(source)).rejects.toThrow(/^Redshift could not run the query \(division by zero\): fix the SQL/);
    expect(texts().some((t) => t.startsWith('FETCH'))).toBe(true);
    expect(texts().at(-1)).toBe('ROLLBACK');
    expect(await session()).toEqual({ state: 'idle', query: 'ROLLBACK' });
    const ok = open({ table: undefined, query: 'SELECT id, updated_at FROM analytics.orders WHERE id <= 3' });
    expect((await readAll(ok)).ids).toEqual([1, 2, 3]);
  });

  it('sends no PostgreSQL-only SQL: no catalog functions, casts with ::, row comparisons or arrays', async () => {
    const source = open();
    await source.columnTypes();
    const after = { cursor: '2026-01-01 00:10:00+00', key: '600' };
    await readAll(source);
    for await (const _ of source.read({ after, until: '2026-01-01 00:20:00', pageSize: 10 })) break;
    await source.unreadableRows('2026-01-01 00:20:00', after);
    await source.unreadableRows();
    await source.checkKey(100);
    await open({ cursor: undefined }).read({ after: { cursor: null, key: '5' } })[Symbol.asyncIterator]().next();
    const blacklist = /format_type|unnest|regclass|ordinality|::|\)\s*[<>]=?\s*\(|pg_catalog|information_schema|generate_series|array\[|distinct on|filter\s*\(|ilike|returning|SET DateStyle = |;/i;
    expect(texts().length).toBeGreaterThan(10);
    expect(texts().filter((t) => blacklist.test(t))).toEqual([]);
    // Checkpoint values in DECLARE are literals, compared column by column.
    const declared = texts().filter((t) => t.startsWith('DECLARE'));
    expect(declared.some((t) => t.includes("(pinsync_source.\"updated_at\" > CAST('2026-01-01 00:10:00+00' AS timestamptz) OR (pinsync_source.\"updated_at\" = CAST('2026-01-01 00:10:00+00' AS timestamptz) AND pinsync_source.\"id\" > CAST('600' AS integer)))"))).toBe(true);
    expect(declared.every((t) => !/\$\d/.test(t))).toBe(true);
    expect(texts()).toContain("SET timezone TO 'UTC'");
    expect(texts()).toContain("SET datestyle TO 'ISO, YMD'");
  });

  it('writes checkpoint values with quotes, backslashes and $1 as literals that resume exactly where a bound parameter would', async () => {
    const source = open({ table: 'analytics.keys', cursor: undefined });
    const keys = (await withClient(url, (c) => c.query<{ id: string }>('SELECT id FROM analytics.keys ORDER BY id'))).rows.map((r) => r.id);
    for (const key of keys) {
      const expected = (await withClient(url, (c) => c.query<{ id: string }>('SELECT id FROM analytics.keys WHERE id > $1 ORDER BY id', [key]))).rows.map((r) => r.id);
      const ids: unknown[] = [];
      for await (const page of source.read({ after: { cursor: null, key } })) ids.push(...page.map((r) => r[0]));
      expect(ids).toEqual(expected);
    }
    expect(texts().some((t) => t.includes("('a' || CHR(92) || 'b')"))).toBe(true);
  });

  it('describes types by Redshift name from the result description, and reads them exactly', async () => {
    const source = open({ table: 'analytics.typed', cursor: 'at' });
    expect([...(await source.columnTypes())]).toEqual([
      ['id', 'bigint'], ['at', 'timestamp'], ['total', 'numeric(38,10)'], ['items', 'json'], ['sku', 'char(3)'], ['note', 'varchar(20)'],
      ['paid', 'boolean'], ['ratio', 'real'], ['score', 'double precision'], ['n', 'smallint'], ['day', 'date'], ['t', 'time'], ['tz', 'timetz'],
    ]);
    const rows: Row[] = [];
    for await (const page of source.read()) rows.push(...page);
    const row = rows[0]!;
    expect(row.slice(0, 6)).toEqual(['9007199254740993', new Date('2026-11-20T10:00:00.123Z'), '12345678901234567890.0123456789', [{ id: 'A', quantity: 2 }], 'abc', 'x']);
    expect(source.positionOf(row)).toEqual({ cursor: '2026-11-20 10:00:00.123456', key: '9007199254740993' });
    const resumed: unknown[] = [];
    for await (const page of source.read({ after: source.positionOf(row) })) resumed.push(...page);
    expect(resumed).toEqual([]);
  });

  it('refuses two statements and writes, with PostgreSQL\'s wording, in describe and in the cursor, and runs neither', async () => {
    const hostile = 'SELECT 1 AS id) AS x; DROP TABLE analytics.orders; SELECT * FROM (SELECT 1 AS id';
    await expect(open({ table: undefined, query: hostile, cursor: undefined }).columnTypes())
      .rejects.toThrow(new RefusedQueryError('the query holds more than one statement: a sync runs exactly one SELECT; remove the semicolons between statements'));
    await expect(readAll(open({ table: undefined, query: hostile, cursor: undefined }, [['id', 'integer']]))).rejects.toThrow(RefusedQueryError);
    expect(texts().some((t) => t.startsWith('DECLARE') && t.includes('DROP TABLE'))).toBe(true);
    const wording = /^the query tries to write \(.*\): a sync's query may only read; write a plain SELECT$/;
    const deleting = 'WITH d AS (DELETE FROM analytics.orders RETURNING id) SELECT id FROM d';
    await expect(open({ table: undefined, query: deleting, cursor: undefined }).columnTypes()).rejects.toThrow(wording);
    // LIMIT 0 evaluates no row: a write hidden in a function call is refused when the rows are read, by the READ ONLY transaction.
    const write = open({ table: undefined, query: "SELECT nextval('analytics.s') AS id", cursor: undefined });
    await expect(readAll(write)).rejects.toThrow(/^the query tries to write \(.*read-only transaction\): a sync's query may only read; write a plain SELECT$/);
    await expect(write.checkKey(10)).rejects.toThrow(RefusedQueryError);
    await withClient(url, async (c) => {
      expect((await c.query('SELECT count(*)::int AS n FROM analytics.orders')).rows[0].n).toBe(ROWS);
      expect((await c.query('SELECT is_called FROM analytics.s')).rows[0].is_called).toBe(false);
    });
  });

  it('says what to do for each error a user meets', async () => {
    const at = (change: (u: URL) => void) => {
      const u = new URL(url);
      change(u);
      return u.toString();
    };
    const fails = async (source: Source) => {
      const error = await source.columnTypes().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(SourceError);
      return (error as Error).message;
    };
    const closed = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    expect(await fails(open({ url: at((u) => { u.port = String(closed); }) })))
      .toMatch(/^cannot connect to Redshift \(connect ECONNREFUSED 127\.0\.0\.1:\d+\): check the endpoint host and port \(5439 unless changed\), .*security group allows inbound TCP/);
    expect(await fails(open({ url: at((u) => { u.password = 'wrong'; }) }))).toMatch(/^Redshift refused the user name or password \(.*\): check source.user and source.password/);
    expect(await fails(open({ url: at((u) => { u.pathname = '/no_such_db'; }) }))).toMatch(/^Redshift has no such database .*check source.database/);
    expect(await fails(open({ url: at((u) => { u.username = READER; u.password = 'reader-test'; }) })))
      .toMatch(/^the Redshift user may not read the table analytics.orders \(permission denied for schema analytics\): have an administrator run GRANT USAGE ON SCHEMA <schema> TO <user> and GRANT SELECT ON <schema>.<table> TO <user>$/);
    expect(await fails(open({ table: 'analytics.nope' }))).toMatch(/^Redshift cannot find the table analytics.nope \(.*\): write the table as schema.table .*search_path/);
    expect(await fails(open({ table: undefined, query: 'SELEC 1' }))).toMatch(/^Redshift could not run the query \(syntax error at or near .*\): fix the SQL/);
    expect(await fails(open({ ssl: true }))).toMatch(/^the server does not offer TLS \(.*\): .*source.ssl: false/);
    expect(await fails(open({ url: undefined, host: '127.0.0.1', port: closed, database: 'd', user: 'u', password: 'p' }))).toMatch(/^cannot connect to Redshift/);
  });

  it('says to turn TLS on when the cluster requires it (require_ssl)', async () => {
    // A server that answers every startup as a Redshift cluster with require_ssl answers a connection without TLS.
    const server: Server = createServer((socket) => {
      socket.once('data', () => {
        const fields = ['SFATAL', 'C28000', 'Mno pg_hba.conf entry for host "10.0.0.1", user "u", database "dev", SSL off'].map((f) => `${f}\0`).join('') + '\0';
        const body = Buffer.from(fields);
        const header = Buffer.alloc(5);
        header.write('E', 0);
        header.writeInt32BE(body.length + 4, 1);
        socket.end(Buffer.concat([header, body]));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as { port: number };
      const source = open({ url: `postgres://u:p@127.0.0.1:${port}/dev` });
      await expect(source.columnTypes()).rejects.toThrow(/^Redshift requires TLS for this connection \(.*SSL off\): set source.ssl to true/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('closes twice, and closes a source that never connected', async () => {
    const source = open();
    await readAll(source);
    await source.close();
    await source.close();
    const unused = open();
    await unused.close();
    await unused.close();
  });
});
