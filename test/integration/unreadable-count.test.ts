// What a run counts of the rows it leaves out: from a checkpoint, only the future rows (a range
// an index on the cursor serves, as it serves the read); rows with a null cursor or key only when
// the read starts from the beginning, since counting them means scanning the whole source.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PostgresSource } from '../../src/sources/postgres/index.js';
import { DuckdbSource } from '../../src/sources/duckdb/index.js';
import { freshDatabase, withClient } from '../helpers/pg.js';

let url: string;
let dir: string;

const UNTIL = '2026-06-01 00:00:00+00';

beforeAll(async () => {
  url = await freshDatabase('unreadable_count');
  await withClient(url, async (c) => {
    await c.query(`CREATE TABLE orders AS SELECT i AS id, timestamptz '2026-01-01' + i * interval '1 second' AS updated_at, 'u' || i || '@example.com' AS email
      FROM generate_series(1, 50000) i`);
    await c.query('UPDATE orders SET updated_at = NULL WHERE id IN (7, 8)');
    await c.query("UPDATE orders SET updated_at = timestamptz '2099-01-01' WHERE id IN (9, 10, 11)");
    await c.query('ALTER TABLE orders ADD PRIMARY KEY (id)');
    await c.query('CREATE INDEX orders_cursor ON orders (updated_at, id)');
    await c.query('ANALYZE orders');
  });
  dir = mkdtempSync(path.join(tmpdir(), 'pinsync-unreadable-'));
  writeFileSync(path.join(dir, 'leads.csv'), 'id,ts\n1,2026-01-01 00:00:00\n2,\n3,2099-01-01 00:00:00\n4,2026-01-02 00:00:00\n');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('rows a PostgreSQL read leaves out', () => {
  // A key built by the query: no index serves `k IS NULL`, so counting null keys scans everything.
  const query = "SELECT o.id::text || '-1' AS k, o.updated_at, o.email FROM orders o";
  const open = () => new PostgresSource({ type: 'postgres', url, query, primary_key: 'k', cursor: 'updated_at' });

  it('are all counted for a read from the start', async () => {
    const source = open();
    try {
      expect(await source.unreadableRows(UNTIL)).toEqual({ missing: 2, future: 3 });
    } finally {
      await source.close();
    }
  });

  it('from a checkpoint, are only the future ones, counted through the index on the cursor', async () => {
    const source = open();
    const sent: { text: string; values: unknown[] }[] = [];
    const original = pg.Client.prototype.query;
    const query = vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
      const config = args[0] as string | { text: string; values?: unknown[] };
      if (typeof config === 'object' && /AS future/.test(config.text)) sent.push({ text: config.text, values: config.values ?? [] });
      return Reflect.apply(original, this, args) as never;
    });
    try {
      expect(await source.unreadableRows(UNTIL, { cursor: '2026-01-01 13:00:00+00', key: '46800-1' })).toEqual({ missing: 0, future: 3 });
    } finally {
      query.mockRestore();
      await source.close();
    }
    expect(sent).toHaveLength(1);
    const plan = await withClient(url, async (c) => (await c.query(`EXPLAIN ${sent[0]!.text}`, sent[0]!.values)).rows.map((r) => r['QUERY PLAN'] as string).join('\n'));
    expect(plan).not.toMatch(/Seq Scan/);
    expect(plan).toMatch(/Index (Only )?Scan (using|on) orders_cursor/);
  });
});

describe('rows a DuckDB read leaves out', () => {
  const open = () => new DuckdbSource({ type: 'duckdb', query: "SELECT * FROM read_csv('leads.csv')", primary_key: 'id', cursor: 'ts' }, dir);

  it('are all counted from the start; from a checkpoint only the future ones', async () => {
    const source = open();
    try {
      expect(await source.unreadableRows('2026-06-01 00:00:00')).toEqual({ missing: 1, future: 1 });
      expect(await source.unreadableRows('2026-06-01 00:00:00', { cursor: '2026-01-01 00:00:00', key: '1' })).toEqual({ missing: 0, future: 1 });
      // Without a cursor every run reads everything: null keys are counted whatever the checkpoint.
      const keyed = new DuckdbSource({ type: 'duckdb', query: "SELECT * FROM read_csv('leads.csv') UNION ALL SELECT NULL, NULL", primary_key: 'id' }, dir);
      expect(await keyed.unreadableRows(undefined, { cursor: null, key: '1' })).toEqual({ missing: 1, future: 0 });
      await keyed.close();
    } finally {
      await source.close();
    }
  });
});
