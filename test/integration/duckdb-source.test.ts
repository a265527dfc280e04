import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckdbSource } from '../../src/sources/duckdb/index.js';
import { SourceError } from '../../src/core/errors.js';
import type { DuckdbSourceConfig } from '../../src/config/schema.js';
import type { Row } from '../../src/mapping/compile.js';

let dir: string;
let dbFile: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'pinsync-duckdb-'));
  dbFile = path.join(dir, 'warehouse.duckdb');
  const instance = await DuckDBInstance.create(dbFile);
  const connection = await instance.connect();
  await connection.run(`CREATE SCHEMA analytics`);
  await connection.run(`CREATE TABLE analytics."Orders" (id INTEGER, updated_at TIMESTAMP, total DECIMAL(12,2), skus VARCHAR[], email VARCHAR)`);
  // Ties on updated_at (ids 2, 10, 3 share one microsecond) and a value one microsecond later.
  await connection.run(`INSERT INTO analytics."Orders" VALUES
    (1, '2026-11-20 10:00:00.000001', 19.99, ['A'], 'a@example.com'),
    (10, '2026-11-20 10:00:00.000002', 0.10, ['B', 'C'], NULL),
    (2, '2026-11-20 10:00:00.000002', 1234567890.12, [], 'b@example.com'),
    (3, '2026-11-20 10:00:00.000002', 5.00, NULL, 'c@example.com'),
    (4, '2026-11-20 10:00:00.000003', 7.25, ['D'], 'd@example.com')`);
  connection.closeSync();
  instance.closeSync();
  writeFileSync(path.join(dir, 'leads.csv'), 'lead_id,created,score\nL2,2026-11-20 09:00:00,3.50\nL1,2026-11-20 09:00:00,1.25\n');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = (extra: Partial<DuckdbSourceConfig>): DuckdbSourceConfig => ({ type: 'duckdb', primary_key: 'id', ...extra });

type Named = Record<string, unknown> & { row: Row };

/** Reads everything, naming each row's values by the requested (or all) columns. */
async function readAll(source: DuckdbSource, options: Parameters<DuckdbSource['read']>[0] = {}): Promise<Named[]> {
  const columns = options.columns ?? (await source.columns());
  const rows: Named[] = [];
  for await (const page of source.read(options)) {
    for (const row of page) rows.push({ ...Object.fromEntries(columns.map((c, i) => [c, row[i]])), row });
  }
  return rows;
}

describe('DuckDB source', () => {
  // Order, ties, positions, pages, nulls, counts and errors: the source contract (source-contract.test.ts).
  it('leaves out rows stamped after the bound, reads a date cursor from its day, and counts key repeats', async () => {
    const query = `SELECT * FROM (VALUES (1, TIMESTAMP '2026-11-20 10:00:00', DATE '2026-11-20', 'new'), (2, TIMESTAMP '2099-01-01 00:00:00', DATE '2099-01-01', 'new'),
      (3, 'infinity'::TIMESTAMP, 'infinity'::DATE, 'paid'), (4, TIMESTAMP '2026-11-21 10:00:00', DATE '2026-11-21', 'paid')) t(id, stamped, day, status)`;
    const source = new DuckdbSource(config({ query, cursor: 'stamped' }), dir);
    expect((await readAll(source, { until: '2026-11-30 00:00:00.000' })).map((r) => r.id)).toEqual([1, 4]);
    expect(await source.unreadableRows('2026-11-30 00:00:00.000')).toEqual({ missing: 0, future: 2 });
    const byDay = new DuckdbSource(config({ query, cursor: 'day' }), dir);
    expect((await readAll(byDay, { after: { cursor: '2026-11-21', key: null, inclusive: true }, until: '2026-11-30' })).map((r) => r.id)).toEqual([4]);
    const byStatus = new DuckdbSource(config({ query, primary_key: 'status' }), dir);
    expect(await byStatus.checkKey(1000)).toEqual({ checked: 4, distinctKeys: 2, most: 2 });
    for (const s of [source, byDay, byStatus]) await s.close();
  });

  it('runs a query over files relative to the sync file folder', async () => {
    const source = new DuckdbSource(
      config({ primary_key: 'lead_id', cursor: 'created', query: "SELECT * FROM read_csv('leads.csv');" }),
      dir,
    );
    const rows = await readAll(source);
    expect(rows.map((r) => r.lead_id)).toEqual(['L1', 'L2']);
    // CSV sniffing types the column DOUBLE; shortest round-trip keeps it free of float artifacts.
    expect(rows.map((r) => r.score)).toEqual([1.25, 3.5]);
    await source.close();
  });

  it('fails with a SourceError that names the problem', async () => {
    const missingTable = new DuckdbSource(config({ path: dbFile, table: 'nope' }), dir);
    await expect(missingTable.columns()).rejects.toThrow(SourceError);
    await expect(missingTable.columns()).rejects.toThrow(/table nope/);
    await missingTable.close();
    const missingFile = new DuckdbSource(config({ path: 'missing.duckdb', table: 't' }), dir);
    await expect(missingFile.columns()).rejects.toThrow(/cannot open DuckDB database missing\.duckdb/);
    await missingFile.close();
    const badSql = new DuckdbSource(config({ query: 'SELEC 1' }), dir);
    await expect(badSql.columns()).rejects.toThrow(/DuckDB cannot read the source query/);
    await badSql.close();
  });

  it('opens database files read-only, so other processes can read them meanwhile', async () => {
    const source = new DuckdbSource(config({ path: dbFile, table: 'analytics.Orders' }), dir);
    await source.columns();
    // A read-write open would hold DuckDB's exclusive file lock and make this child fail.
    const child = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', `
      import { DuckDBInstance } from '@duckdb/node-api';
      const db = await DuckDBInstance.create(${JSON.stringify(dbFile)}, { access_mode: 'READ_ONLY' });
      const c = await db.connect();
      console.log((await c.runAndReadAll('SELECT count(*)::INT AS n FROM analytics."Orders"')).getRowObjectsJS()[0].n);
    `], { cwd: path.resolve('.') });
    expect(child.stdout.trim()).toBe('5');
    await source.close();
  });

  it('masks data values quoted in DuckDB errors', async () => {
    const source = new DuckdbSource(config({ path: dbFile, query: 'SELECT id, CAST(email AS INTEGER) AS n FROM analytics."Orders"' }), dir);
    const error = await readAll(source).catch((e: Error) => e);
    expect(String(error)).toMatch(/DuckDB query failed: Conversion Error: .*'…'/);
    expect(String(error)).not.toContain('@example.com');
    await source.close();
  });
});
