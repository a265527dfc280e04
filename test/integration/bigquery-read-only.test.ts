// A BigQuery source query runs only once a dry run (nothing runs) says it is one SELECT: a
// query that closes the subquery it is wrapped in is a SCRIPT, refused on every path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BigquerySource } from '../../src/sources/bigquery/index.js';
import type { BigquerySourceConfig } from '../../src/config/schema.js';
import { RefusedQueryError } from '../../src/core/errors.js';
import { FakeBigQuery } from '../helpers/fake-bigquery.js';

let fake: FakeBigQuery;

beforeAll(async () => {
  fake = await new FakeBigQuery().start();
  process.env.PINSYNC_BIGQUERY_API_URL = fake.url;
  process.env.GOOGLE_OAUTH_ACCESS_TOKEN = 'ya29.test-token';
  await fake.exec('CREATE SCHEMA analytics');
  await fake.exec("CREATE TABLE analytics.victim AS SELECT i AS id, 'row ' || i AS note FROM range(3) t(i)");
  await fake.exec("CREATE TABLE analytics.orders AS SELECT i AS order_id, TIMESTAMPTZ '2026-11-20 10:00:00+00' AS updated_at FROM range(4) t(i)");
});

afterAll(async () => {
  delete process.env.PINSYNC_BIGQUERY_API_URL;
  delete process.env.GOOGLE_OAUTH_ACCESS_TOKEN;
  await fake.stop();
});

const source = (query: string, known?: [string, string][]) => new BigquerySource({
  type: 'bigquery', project: 'acme-prod', dataset: 'analytics', primary_key: 'order_id', job_timeout: '1m', page_timeout: '1m', query,
} satisfies BigquerySourceConfig, known);

async function victimRows(): Promise<number> {
  const before = fake.requests.length;
  const probe = new BigquerySource({ type: 'bigquery', project: 'acme-prod', dataset: 'analytics', table: 'victim', primary_key: 'id', job_timeout: '1m', page_timeout: '1m' });
  let rows = 0;
  for await (const page of probe.read()) rows += page.length;
  fake.requests.splice(before);
  return rows;
}

const jobs = () => fake.requests.filter((r) => r.method === 'POST' && /\/jobs$/.test(r.path)).map((r) => (r.body as { configuration: { dryRun?: boolean } }).configuration);

describe('a BigQuery source query', () => {
  const hostile = 'SELECT 1 AS order_id) AS x; DELETE FROM analytics.victim WHERE true; SELECT * FROM (SELECT 1 AS order_id';

  it('that closes its parenthesis is refused by describe, the key check and the read, and runs nowhere', async () => {
    fake.requests.length = 0;
    await expect(source(hostile).columnTypes()).rejects.toThrow(RefusedQueryError);
    await expect(source(hostile).columnTypes()).rejects.toThrow(/the query holds more than one statement/);
    // Wrapped differently, the same text is a syntax error: refused by the dry run all the same.
    await expect(source(hostile).checkKey(1000)).rejects.toThrow(/BigQuery rejected the SQL/);
    // The reading thread's source: column types known, so its first query is the read itself.
    const reader = source(hostile, [['order_id', 'INT64']]);
    await expect((async () => {
      for await (const page of reader.read()) void page;
    })()).rejects.toThrow(RefusedQueryError);
    // Only dry runs: not one of these queries ran.
    expect(jobs().length).toBeGreaterThan(0);
    expect(jobs().every((c) => c.dryRun === true)).toBe(true);
    expect(await victimRows()).toBe(3);
  });

  it('that is anything but a SELECT never runs: wrapped in a subquery, the dry run refuses it', async () => {
    fake.requests.length = 0;
    await expect(source('DELETE FROM analytics.victim WHERE true').columnTypes()).rejects.toThrow(/BigQuery rejected the SQL/);
    expect(jobs().every((c) => c.dryRun === true)).toBe(true);
    expect(await victimRows()).toBe(3);
  });

  it('runs when it is one SELECT: a dry run, then the job', async () => {
    fake.requests.length = 0;
    const plain = source('SELECT order_id, updated_at FROM analytics.orders');
    expect(await plain.columns()).toEqual(['order_id', 'updated_at']);
    let rows = 0;
    for await (const page of plain.read()) rows += page.length;
    expect(rows).toBe(4);
    expect(jobs().map((c) => c.dryRun === true)).toEqual([true, false, true, false]);
  });

  it('from a table runs without a dry run: nothing of the sync file is pasted into its SQL', async () => {
    fake.requests.length = 0;
    expect(await victimRows()).toBe(3);
    const table = new BigquerySource({ type: 'bigquery', project: 'acme-prod', dataset: 'analytics', table: 'orders', primary_key: 'order_id', job_timeout: '1m', page_timeout: '1m' });
    await table.columns();
    expect(jobs().map((c) => c.dryRun === true)).toEqual([false]);
  });
});
