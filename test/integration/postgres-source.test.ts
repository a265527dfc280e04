import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSource } from '../../src/sources/postgres/index.js';
import { SourceError } from '../../src/core/errors.js';
import type { PostgresSourceConfig } from '../../src/config/schema.js';
import type { Row } from '../../src/mapping/compile.js';
import { freshDatabase, withClient } from '../helpers/pg.js';

let url: string;

beforeAll(async () => {
  url = await freshDatabase('source_test');
  await withClient(url, async (c) => {
    await c.query('CREATE SCHEMA analytics');
    await c.query('CREATE TABLE analytics."Orders" (id integer PRIMARY KEY, updated_at timestamptz, total numeric(12,2), skus text[], email text, placed timestamp)');
    // Ties on updated_at at one microsecond; ids chosen so integer and text order differ.
    await c.query(`INSERT INTO analytics."Orders" VALUES
      (1, '2026-11-20 10:00:00.000001+00', 19.99, '{A}', 'a@example.com', '2026-11-20 10:00:00'),
      (10, '2026-11-20 10:00:00.000002+00', 0.10, '{B,C}', NULL, '2026-11-20 10:00:00'),
      (2, '2026-11-20 10:00:00.000002+00', 1234567890.12, '{}', 'b@example.com', '2026-11-20 10:00:00'),
      (3, '2026-11-20 10:00:00.000002+00', 5.00, NULL, 'c@example.com', '2026-11-20 10:00:00'),
      (4, '2026-11-20 10:00:00.000003+00', 7.25, '{D}', 'd@example.com', '2026-11-20 10:00:00'),
      (5, NULL, 1.00, NULL, 'e@example.com', NULL)`);
    await c.query('CREATE TABLE big AS SELECT i AS id, timestamptz \'2026-01-01 00:00:00+00\' + i * interval \'1 second\' AS ts FROM generate_series(1, 12000) i');
  });
});

const config = (extra: Partial<PostgresSourceConfig>): PostgresSourceConfig => ({ type: 'postgres', url, primary_key: 'id', ...extra });

type Named = Record<string, unknown> & { row: Row };
async function readAll(source: PostgresSource, options: Parameters<PostgresSource['read']>[0] = {}): Promise<Named[]> {
  const columns = options.columns ?? (await source.columns());
  const rows: Named[] = [];
  for await (const page of source.read(options)) {
    for (const row of page) rows.push({ ...Object.fromEntries(columns.map((c, i) => [c, row[i]])), row });
  }
  return rows;
}

describe('PostgreSQL source', () => {
  const sources: PostgresSource[] = [];
  const open = (extra: Partial<PostgresSourceConfig>) => {
    const source = new PostgresSource(config(extra));
    sources.push(source);
    return source;
  };
  afterAll(async () => {
    for (const s of sources) await s.close();
  });

  it('reads in (cursor, primary key) order with exact numerics and UTC timestamps, counting null cursors apart', async () => {
    const source = open({ table: 'analytics.Orders', cursor: 'updated_at' });
    const rows = await readAll(source);
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 10, 4]);
    expect(await source.unreadableRows()).toEqual({ missing: 1, future: 0 });
    expect(rows.map((r) => r.total)).toEqual(['19.99', '1234567890.12', '5.00', '0.10', '7.25']);
    expect(rows[3]!.skus).toEqual(['B', 'C']);
    expect((rows[0]!.placed as Date).toISOString()).toBe('2026-11-20T10:00:00.000Z');
    expect(source.positionOf(rows[1]!.row)).toEqual({ cursor: '2026-11-20 10:00:00.000002+00', key: '2' });
    await source.close();
    await source.close();
  });

  it('resumes strictly after a position: ties broken by primary key in its own type, microseconds kept', async () => {
    const source = open({ table: 'analytics.Orders', cursor: 'updated_at' });
    expect((await readAll(source, { after: { cursor: '2026-11-20 10:00:00.000002+00', key: '3' } })).map((r) => r.id)).toEqual([10, 4]);
    expect((await readAll(source, { after: { cursor: '2026-11-20 10:00:00.000001+00', key: '1' } })).map((r) => r.id)).toEqual([2, 3, 10, 4]);
    // reset --to: after every row at that cursor value
    expect((await readAll(source, { after: { cursor: '2026-11-20 10:00:00.000002+00', key: null } })).map((r) => r.id)).toEqual([4]);
  });

  it('leaves out rows stamped after the bound, infinity included, and counts them apart from null cursors', async () => {
    await withClient(url, (c) => c.query(`CREATE TABLE stamped (id integer, at timestamptz, day date, status text);
      INSERT INTO stamped VALUES (1, '2026-11-20 10:00:00+00', '2026-11-20', 'new'), (2, '2099-01-01 00:00:00+00', '2099-01-01', 'new'),
        (3, 'infinity', 'infinity', 'paid'), (4, '2026-11-21 10:00:00+00', '2026-11-21', 'paid'), (5, NULL, NULL, 'paid')`));
    const source = open({ table: 'stamped', cursor: 'at' });
    const until = '2026-11-30 00:00:00.000';
    expect((await readAll(source, { until })).map((r) => r.id)).toEqual([1, 4]);
    expect(await source.unreadableRows(until)).toEqual({ missing: 1, future: 2 });
    // Without a bound (an integer cursor) nothing counts as future.
    expect(await source.unreadableRows()).toEqual({ missing: 1, future: 0 });
    const byDay = open({ table: 'stamped', cursor: 'day' });
    expect((await readAll(byDay, { until: '2026-11-30' })).map((r) => r.id)).toEqual([1, 4]);
    // A coarse cursor's re-read: from the checkpoint's day, its own rows included.
    expect((await readAll(byDay, { after: { cursor: '2026-11-21', key: null, inclusive: true }, until: '2026-11-30' })).map((r) => r.id)).toEqual([4]);
    expect((await readAll(byDay, { after: { cursor: '2026-11-21', key: null }, until: '2026-11-30' })).map((r) => r.id)).toEqual([]);
  });

  it('counts how often the primary key repeats, over a bounded number of rows', async () => {
    expect(await open({ table: 'big', primary_key: 'id' }).checkKey(1000)).toEqual({ checked: 1000, distinctKeys: 1000, most: 1 });
    expect(await open({ table: 'stamped', primary_key: 'status' }).checkKey(1000)).toEqual({ checked: 5, distinctKeys: 2, most: 3 });
  });

  it('streams pages through a server-side cursor, never holding more than a page', async () => {
    const source = open({ table: 'big', cursor: 'ts' });
    const sizes: number[] = [];
    let last = 0;
    let ordered = true;
    for await (const page of source.read({ pageSize: 5000, columns: ['id'] })) {
      sizes.push(page.length);
      for (const row of page) {
        if ((row[0] as number) <= last) ordered = false;
        last = row[0] as number;
      }
    }
    expect(sizes).toEqual([5000, 5000, 2000]);
    expect(ordered).toBe(true);
  });

  it('reads a query, and without a cursor orders by primary key', async () => {
    const source = open({ query: 'SELECT id, email FROM analytics."Orders" WHERE email IS NOT NULL;' });
    expect((await readAll(source)).map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
    expect((await readAll(source, { after: { cursor: null, key: '3' } })).map((r) => r.id)).toEqual([4, 5]);
  });

  it('quotes identifiers: a hostile name is a missing column, not SQL', async () => {
    const source = open({ table: 'analytics.Orders', primary_key: 'id" ; DROP TABLE big; --' });
    await expect(readAll(source)).rejects.toThrow(/primary key column .* is not in the source/);
    await withClient(url, async (c) => expect((await c.query('SELECT count(*)::int AS n FROM big')).rows[0].n).toBe(12000));
  });

  it('fails with a SourceError that names the problem and never the password', async () => {
    const missing = open({ table: 'nope' });
    await expect(missing.columns()).rejects.toThrow(SourceError);
    await expect(missing.columns()).rejects.toThrow(/table nope: relation "nope" does not exist/);
    const badPassword = new URL(url);
    badPassword.password = 'wrong-secret';
    const denied = open({ url: badPassword.toString(), table: 'big' });
    const error = await denied.columns().catch((e: Error) => e);
    expect(String(error)).toMatch(/cannot connect to PostgreSQL: password authentication failed/);
    expect(String(error)).not.toContain('wrong-secret');
  });

  it('reads text exactly: multi-byte, empty, NULL and long values, beside plain ASCII', async () => {
    // Rows come through pinsync's own decoding of pg's row messages (data-rows.ts).
    const values = [
      ['plain ascii', 'user@example.com', 'x'.repeat(200)],
      ['Chloé', '東京', '🎉 party'],
      ['', null, 'tab\tand\nnewline'],
      ['y'.repeat(70_000), 'naïve', null],
      [null, null, 'ASCII after NULLs'],
    ];
    await withClient(url, async (c) => {
      await c.query('CREATE TABLE texts (id integer PRIMARY KEY, a text, b text, c text)');
      for (const [i, row] of values.entries()) await c.query('INSERT INTO texts VALUES ($1, $2, $3, $4)', [i, ...row]);
    });
    const rows = await readAll(open({ table: 'texts' }), { columns: ['a', 'b', 'c'] });
    expect(rows.map((r) => [r.a, r.b, r.c])).toEqual(values);
  });
});
