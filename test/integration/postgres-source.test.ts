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
    await c.query('CREATE TABLE big (id integer)');
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

  // Order, ties, positions, pages, nulls, counts and errors: the source contract (source-contract.test.ts).
  it('reads timestamp without time zone as UTC', async () => {
    const source = open({ table: 'analytics.Orders', cursor: 'updated_at' });
    const rows = await readAll(source);
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 10, 4]);
    expect(rows.map((r) => (r.placed as Date).toISOString())).toEqual(Array(5).fill('2026-11-20T10:00:00.000Z'));
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
    // pg's own decoding here; pinsync's patched decoder is compared with it in patches-pg-data-rows.test.ts.
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
