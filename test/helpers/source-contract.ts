// The contract every source keeps, run against each one (test/integration/source-contract.test.ts):
// a new source is a harness that creates these tables in its warehouse and opens the source.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RefusedQueryError, SourceError } from '../../src/core/errors.js';
import { cursorKind, cursorTextAt } from '../../src/sources/cursor.js';
import type { Position, ReadOptions, Source } from '../../src/sources/types.js';
import type { Row } from '../../src/mapping/compile.js';

export type Kind = 'int' | 'timestamp' | 'decimal' | 'list' | 'text' | 'date';

export interface SourceOptions {
  table?: string;
  query?: string;
  primary_key: string;
  cursor?: string;
}

export interface SourceHarness {
  name: string;
  /** Starts the warehouse and runs these statements (in its dialect) there, once. */
  setup(statements: (dialect: HarnessDialect) => string[]): Promise<void>;
  teardown(): Promise<void>;
  dialect: HarnessDialect;
  open(options: SourceOptions): Source;
  /** The column types the source describes for each kind, as `columnTypes()` names them. */
  described: Record<Kind, string>;
  /** A primary key value as the source returns it (a number, or exact text). */
  key(n: number): unknown;
  /** A DECIMAL value as the source returns it (exact text). */
  decimal(text: string): unknown;
  /** Cursor text of a timestamp column at this UTC time ('YYYY-MM-DD HH:MM:SS.ffffff'), as positionOf gives it. */
  timestamp(text: string): string;
  /** Rows a page may hold beyond the page size asked for (a driver's chunk); 0 for exact pages. */
  chunk: number;
  /** Whether unreadableRows counts (BigQuery does not, to bill no scan). */
  countsUnreadable: boolean;
}

/** What differs in the warehouses' SQL for creating the fixtures. */
export interface HarnessDialect {
  types: Record<Kind, string>;
  /** A list literal of text items. */
  list(items: string[]): string;
  /** CREATE TABLE `name` (id, ts) with `rows` rows: id 1..rows, ts one second apart from 2026-01-01 UTC. */
  series(name: string, rows: number): string;
}

// Rows of analytics.big: more than a page and a DuckDB chunk together, so no page can be the whole table.
const BIG = 6000;

const q = (value: string | null) => (value === null ? 'NULL' : `'${value}'`);

function fixtures(d: HarnessDialect): string[] {
  const t = d.types;
  return [
    'CREATE SCHEMA analytics',
    `CREATE TABLE analytics."Orders" (id ${t.int}, updated_at ${t.timestamp}, total ${t.decimal}, skus ${t.list}, email ${t.text}, day ${t.date})`,
    // Ties on updated_at (2, 10 and 3 share one microsecond); ids chosen so integer and text order differ.
    `INSERT INTO analytics."Orders" VALUES
      (1, '2026-11-20 10:00:00.000001+00', 19.99, ${d.list(['A'])}, 'a@example.com', '2026-11-19'),
      (10, '2026-11-20 10:00:00.000002+00', 0.10, ${d.list(['B', 'C'])}, NULL, '2026-11-20'),
      (2, '2026-11-20 10:00:00.000002+00', 1234567890.12, ${d.list([])}, 'b@example.com', '2026-11-20'),
      (3, '2026-11-20 10:00:00.000002+00', 5.00, NULL, 'c@example.com', '2026-11-20'),
      (4, '2026-11-20 10:00:00.000003+00', 7.25, ${d.list(['D'])}, 'd@example.com', '2026-11-21'),
      (5, NULL, 1.00, NULL, 'e@example.com', NULL)`,
    `CREATE TABLE analytics.stamped (id ${t.int}, stamped_at ${t.timestamp}, day ${t.date}, status ${t.text})`,
    `INSERT INTO analytics.stamped VALUES ${[
      [1, '2026-11-20 10:00:00+00', '2026-11-20', 'new'], [2, '2099-01-01 00:00:00+00', '2099-01-01', 'new'],
      [6, '2026-11-21 12:00:00+00', '2026-11-21', 'paid'], [4, '2026-11-21 10:00:00+00', '2026-11-21', 'paid'], [5, null, null, 'paid'],
    ].map(([id, at, day, status]) => `(${id}, ${q(at as string | null)}, ${q(day as string | null)}, ${q(status as string)})`).join(', ')}`,
    d.series('analytics.big', BIG),
  ];
}

type Named = Record<string, unknown> & { row: Row };

async function readAll(source: Source, options: ReadOptions = {}): Promise<Named[]> {
  const columns = options.columns ?? (await source.columns());
  const rows: Named[] = [];
  for await (const page of source.read(options)) {
    for (const row of page) rows.push({ ...Object.fromEntries(columns.map((c, i) => [c, row[i]])), row });
  }
  return rows;
}

async function pageSizes(source: Source, options: ReadOptions): Promise<{ sizes: number[]; ids: unknown[] }> {
  const sizes: number[] = [];
  const ids: unknown[] = [];
  for await (const page of source.read(options)) {
    sizes.push(page.length);
    for (const row of page) ids.push(row[0]);
  }
  return { sizes, ids };
}

/** Pages of `pageSize` rows: all but the last at least that many, none more than a chunk over it. */
function expectPages(sizes: number[], total: number, pageSize: number, chunk: number): void {
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(total);
  if (chunk === 0) {
    expect(sizes).toEqual([...Array(Math.floor(total / pageSize)).fill(pageSize), ...(total % pageSize ? [total % pageSize] : [])]);
    return;
  }
  sizes.slice(0, -1).forEach((size) => expect(size).toBeGreaterThanOrEqual(pageSize));
  sizes.forEach((size) => expect(size).toBeLessThanOrEqual(pageSize + chunk));
}

export function sourceContract(harness: SourceHarness): void {
  describe(`the source contract: ${harness.name}`, () => {
    const opened: Source[] = [];
    const open = (options: Partial<SourceOptions>) => {
      const source = harness.open({ primary_key: 'id', ...options });
      opened.push(source);
      return source;
    };
    const orders = (extra: Partial<SourceOptions> = {}) => open({ table: 'analytics.Orders', cursor: 'updated_at', ...extra });
    const stamped = (extra: Partial<SourceOptions> = {}) => open({ table: 'analytics.stamped', ...extra });
    const ids = (rows: Named[]) => rows.map((r) => r.id);
    const keys = (...ns: number[]) => ns.map(harness.key);
    const ts = harness.timestamp;

    beforeAll(() => harness.setup(fixtures));
    afterAll(async () => {
      for (const source of opened) await source.close();
      await harness.teardown();
    });

    it('describes its columns in order, with types whose cursor kinds are right', async () => {
      const source = orders();
      expect(await source.columns()).toEqual(['id', 'updated_at', 'total', 'skus', 'email', 'day']);
      const d = harness.described;
      expect([...(await source.columnTypes())]).toEqual([
        ['id', d.int], ['updated_at', d.timestamp], ['total', d.decimal], ['skus', d.list], ['email', d.text], ['day', d.date],
      ]);
      expect([d.int, d.timestamp, d.date, d.text, d.decimal, d.list].map(cursorKind)).toEqual(['integer', 'timestamp', 'date', undefined, undefined, undefined]);
    });

    it('reads in (cursor, primary key) order, ties broken by the key in its own type, values exact, nulls null; close() twice', async () => {
      const source = orders();
      const rows = await readAll(source);
      expect(ids(rows)).toEqual(keys(1, 2, 3, 10, 4));
      expect(rows.map((r) => r.total)).toEqual(['19.99', '1234567890.12', '5.00', '0.10', '7.25'].map(harness.decimal));
      expect(rows.map((r) => r.skus)).toEqual([['A'], [], null, ['B', 'C'], ['D']]);
      expect(rows.map((r) => r.email)).toEqual(['a@example.com', 'b@example.com', 'c@example.com', null, 'd@example.com']);
      expect(rows[0]!.updated_at).toEqual(new Date('2026-11-20T10:00:00.000Z'));
      // Each row carries the exact key and cursor text after its columns, for checkpoints.
      expect(rows[1]!.row).toHaveLength(6 + 2);
      expect(source.positionOf(rows[1]!.row)).toEqual({ cursor: ts('2026-11-20 10:00:00.000002'), key: '2' });
      expect(source.positionOf(rows[3]!.row)).toEqual({ cursor: ts('2026-11-20 10:00:00.000002'), key: '10' });
      await source.close();
      await source.close();
      const unused = harness.open({ table: 'analytics.Orders', primary_key: 'id' });
      await unused.close();
      await unused.close();
    });

    it('returns only the requested columns, in the requested order', async () => {
      const source = orders();
      const rows = await readAll(source, { columns: ['email', 'id'] });
      expect(rows[0]!.row.slice(0, 2)).toEqual(['a@example.com', harness.key(1)]);
      expect(rows[0]!.row).toHaveLength(2 + 2);
      expect(source.positionOf(rows[0]!.row)).toEqual({ cursor: ts('2026-11-20 10:00:00.000001'), key: '1' });
    });

    it('resumes strictly after every position it gives, at full cursor precision', async () => {
      const source = orders();
      const rows = await readAll(source);
      const positions = rows.map((r) => source.positionOf(r.row));
      for (const [i, after] of positions.entries()) {
        expect(ids(await readAll(source, { after }))).toEqual(ids(rows).slice(i + 1));
      }
      // Integer key order (3 < 10), not text order, among the rows of one microsecond.
      expect(ids(await readAll(source, { after: { cursor: ts('2026-11-20 10:00:00.000002'), key: '3' } }))).toEqual(keys(10, 4));
      expect(ids(await readAll(source, { after: { cursor: ts('2026-11-20 10:00:00.000001'), key: '1' } }))).toEqual(keys(2, 3, 10, 4));
    });

    it('resumes from a cursor-only position: after every row at that value, or (inclusive) from it', async () => {
      const source = orders();
      const at = (after: Position) => readAll(source, { after }).then(ids);
      expect(await at({ cursor: ts('2026-11-20 10:00:00.000002'), key: null })).toEqual(keys(4));
      expect(await at({ cursor: ts('2026-11-20 10:00:00.000002'), key: null, inclusive: true })).toEqual(keys(2, 3, 10, 4));
    });

    it('without a cursor reads in primary key order, null cursors included, and resumes by key', async () => {
      const source = orders({ cursor: undefined });
      const rows = await readAll(source);
      expect(ids(rows)).toEqual(keys(1, 2, 3, 4, 5, 10));
      expect(rows[4]!.updated_at).toBeNull();
      expect(source.positionOf(rows[4]!.row)).toEqual({ cursor: null, key: '5' });
      expect(ids(await readAll(source, { after: { cursor: null, key: '3' } }))).toEqual(keys(4, 5, 10));
      expect(await readAll(source, { after: { cursor: null, key: '10' } })).toEqual([]);
    });

    it('reads in pages of the size asked for: 1, a few, and many rows', async () => {
      const source = orders();
      for (const pageSize of [1, 2]) {
        const { sizes, ids: read } = await pageSizes(source, { pageSize, columns: ['id'] });
        expectPages(sizes, 5, pageSize, harness.chunk);
        expect(read).toEqual(keys(1, 2, 3, 10, 4));
      }
      const big = open({ table: 'analytics.big', cursor: 'ts' });
      const { sizes, ids: read } = await pageSizes(big, { pageSize: 1000, columns: ['id'] });
      expectPages(sizes, BIG, 1000, harness.chunk);
      expect(Math.max(...sizes)).toBeLessThan(BIG);
      expect(read).toEqual(Array.from({ length: BIG }, (_, i) => harness.key(i + 1)));
    });

    it('bounds timestamp cursors and re-reads a lookback window before the checkpoint', async () => {
      // The bound is inclusive, to the microsecond.
      expect(ids(await readAll(orders(), { until: '2026-11-20 10:00:00.000002' }))).toEqual(keys(1, 2, 3, 10));
      const source = stamped({ cursor: 'stamped_at' });
      const until = cursorTextAt(Date.parse('2026-11-30T00:00:00Z'), 'timestamp');
      expect(ids(await readAll(source, { until }))).toEqual(keys(1, 4, 6));
      // A 2h window before a checkpoint at 11:00 on the 21st starts at 09:00, written as the ledger writes it.
      const start = cursorTextAt(Date.parse('2026-11-21T09:00:00Z'), 'timestamp');
      expect(ids(await readAll(source, { after: { cursor: start, key: null }, until }))).toEqual(keys(4, 6));
      expect(ids(await readAll(source, { after: { cursor: ts('2026-11-21 10:00:00.000000'), key: '4' }, until }))).toEqual(keys(6));
    });

    it('bounds date cursors and re-reads a lookback window from its first day, whether its start is a day or a time', async () => {
      const source = stamped({ cursor: 'day' });
      const until = cursorTextAt(Date.parse('2026-11-30T00:01:00Z'), 'date');
      expect(ids(await readAll(source, { until }))).toEqual(keys(1, 4, 6));
      expect(source.positionOf((await readAll(source, { until }))[0]!.row)).toEqual({ cursor: '2026-11-20', key: '1' });
      // The day of the checkpoint again (inclusive), its ties broken by key, or only later days.
      expect(ids(await readAll(source, { after: { cursor: '2026-11-21', key: null, inclusive: true }, until }))).toEqual(keys(4, 6));
      expect(ids(await readAll(source, { after: { cursor: '2026-11-21', key: '4' }, until }))).toEqual(keys(6));
      expect(await readAll(source, { after: { cursor: '2026-11-21', key: null }, until })).toEqual([]);
      // Cursor text with a time of day (a window computed in milliseconds, a bound), cast to the column's DATE.
      const timeUntil = cursorTextAt(Date.parse('2026-11-30T00:01:00Z'), 'timestamp');
      const windowStart = cursorTextAt(Date.parse('2026-11-21T00:00:00Z'), 'timestamp');
      expect(ids(await readAll(source, { after: { cursor: windowStart, key: null, inclusive: true }, until: timeUntil }))).toEqual(keys(4, 6));
      expect(ids(await readAll(source, { after: { cursor: windowStart, key: null }, until: timeUntil }))).toEqual([]);
    });

    it('counts the rows a read leaves out: null cursors from the start only, future ones always', async () => {
      const counted = (missing: number, future: number) => (harness.countsUnreadable ? { missing, future } : { missing: 0, future: 0 });
      const until = cursorTextAt(Date.parse('2026-11-30T00:00:00Z'), 'timestamp');
      expect(await orders().unreadableRows()).toEqual(counted(1, 0));
      expect(await orders().unreadableRows(undefined, { cursor: ts('2026-11-20 10:00:00.000001'), key: '1' })).toEqual(counted(0, 0));
      const source = stamped({ cursor: 'stamped_at' });
      expect(await source.unreadableRows(until)).toEqual(counted(1, 1));
      expect(await source.unreadableRows(until, { cursor: ts('2026-11-20 10:00:00.000000'), key: '1' })).toEqual(counted(0, 1));
      // Without a cursor every run reads everything: null keys count whatever the checkpoint.
      expect(await stamped({ primary_key: 'stamped_at' }).unreadableRows(undefined, { cursor: null, key: '1' })).toEqual(counted(1, 0));
    });

    it('counts how often the primary key repeats, over a bounded number of rows', async () => {
      expect(await open({ table: 'analytics.big' }).checkKey(1000)).toEqual({ checked: 1000, distinctKeys: 1000, most: 1 });
      expect(await stamped({ primary_key: 'status' }).checkKey(1000)).toEqual({ checked: 5, distinctKeys: 2, most: 3 });
    });

    it('fails with a SourceError for a missing table, key or cursor column, a bad query, or a checkpoint of the wrong type', async () => {
      await expect(open({ table: 'analytics.nope' }).columns()).rejects.toThrow(SourceError);
      await expect(readAll(orders({ primary_key: 'id" ; DROP TABLE analytics.big; --' }))).rejects.toThrow(/^primary key column 'id" ; DROP TABLE analytics.big; --' is not in the source$/);
      await expect(readAll(orders({ cursor: 'nope' }))).rejects.toThrow(/^cursor column 'nope' is not in the source$/);
      await expect(open({ query: 'SELEC 1' }).columns()).rejects.toThrow(SourceError);
      await expect(readAll(orders(), { after: { cursor: 'not a time', key: '1' } })).rejects.toThrow(SourceError);
      await expect(readAll(orders(), { after: { cursor: ts('2026-11-20 10:00:00.000001'), key: 'not a number' } })).rejects.toThrow(SourceError);
      expect(await open({ table: 'analytics.big' }).checkKey(10_000)).toEqual({ checked: BIG, distinctKeys: BIG, most: 1 });
    });

    it('runs a query only as one read-only statement: one that closes its parenthesis to add another is refused and runs nowhere', async () => {
      const hostile = 'SELECT 1 AS id) AS x; DELETE FROM analytics.stamped WHERE true; SELECT * FROM (SELECT 1 AS id';
      await expect(open({ query: hostile }).columnTypes()).rejects.toThrow(RefusedQueryError);
      await expect(open({ query: hostile }).columnTypes()).rejects.toThrow(/more than one statement|statements/);
      // Anything but a SELECT: refused (DuckDB says why) or, wrapped in a subquery, not valid SQL.
      const write = await open({ query: 'DELETE FROM analytics.stamped WHERE true' }).columnTypes().then(() => undefined, (e: unknown) => e);
      expect(write instanceof SourceError || write instanceof RefusedQueryError).toBe(true);
      expect(ids(await readAll(stamped()))).toEqual(keys(1, 2, 4, 5, 6));
      // A plain SELECT runs, with a trailing semicolon or -- comment.
      expect(ids(await readAll(open({ query: "SELECT id, status FROM analytics.stamped WHERE status = 'paid';" })))).toEqual(keys(4, 5, 6));
      expect(ids(await readAll(open({ query: "SELECT id, status FROM analytics.stamped WHERE status = 'paid' -- paid only" })))).toEqual(keys(4, 5, 6));
    });
  });
}
