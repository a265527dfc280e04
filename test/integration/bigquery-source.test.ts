// The BigQuery source through the official client, pointed at a local stand-in for the REST API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BigquerySource } from '../../src/sources/bigquery/index.js';
import type { BigquerySourceConfig } from '../../src/config/schema.js';
import type { Row } from '../../src/mapping/compile.js';
import { FakeBigQuery } from '../helpers/fake-bigquery.js';

let fake: FakeBigQuery;

beforeAll(async () => {
  fake = await new FakeBigQuery().start();
  process.env.PINSYNC_BIGQUERY_API_URL = fake.url;
  process.env.GOOGLE_OAUTH_ACCESS_TOKEN = 'ya29.test-token';
  await fake.exec('CREATE SCHEMA analytics');
  await fake.exec(`CREATE TABLE analytics.orders (
    order_id BIGINT, updated_at TIMESTAMPTZ, total DECIMAL(38, 9), skus VARCHAR[], buyer STRUCT(email VARCHAR, tier VARCHAR),
    birthday DATE, items VARCHAR, placed TIMESTAMP)`);
  await fake.exec(`INSERT INTO analytics.orders VALUES
    (1, '2026-11-20 10:00:00.000001+00', 19.99, ['A'], {'email': 'a@example.com', 'tier': 'gold'}, '1990-03-05', '[{"id":"A","item_price":"19.99"}]', '2026-11-20 10:00:00'),
    (10, '2026-11-20 10:00:00.000002+00', 123456789012345678.123456789, ['B', 'C'], NULL, NULL, NULL, NULL),
    (2, '2026-11-20 10:00:00.000002+00', 0.1, [], {'email': 'b@example.com', 'tier': NULL}, NULL, NULL, NULL),
    (3, '2026-11-20 10:00:00.000003+00', 5, NULL, NULL, NULL, NULL, NULL)`);
  await fake.exec('CREATE TABLE analytics.big AS SELECT i AS id, TIMESTAMPTZ \'2026-01-01 00:00:00+00\' + to_seconds(i) AS ts FROM range(25000) t(i)');
});

afterAll(async () => {
  delete process.env.PINSYNC_BIGQUERY_API_URL;
  delete process.env.GOOGLE_OAUTH_ACCESS_TOKEN;
  await fake.stop();
});

const config = (extra: Partial<BigquerySourceConfig>): BigquerySourceConfig => ({
  type: 'bigquery', project: 'acme-prod', dataset: 'analytics', primary_key: 'order_id', job_timeout: '1m', page_timeout: '1m', ...extra,
});

async function readAll(source: BigquerySource, options: Parameters<BigquerySource['read']>[0] = {}): Promise<(Record<string, unknown> & { row: Row })[]> {
  const columns = options.columns ?? (await source.columns());
  const rows: (Record<string, unknown> & { row: Row })[] = [];
  for await (const page of source.read(options)) for (const row of page) rows.push({ ...Object.fromEntries(columns.map((c, i) => [c, row[i]])), row });
  return rows;
}

describe('BigQuery source', () => {
  it('reads in (cursor, primary key) order and converts every type faithfully', async () => {
    const source = new BigquerySource(config({ table: 'orders', cursor: 'updated_at' }));
    expect(await source.columns()).toEqual(['order_id', 'updated_at', 'total', 'skus', 'buyer', 'birthday', 'items', 'placed']);
    const rows = await readAll(source);
    expect(rows.map((r) => r.order_id)).toEqual(['1', '2', '10', '3']);
    // NUMERIC without float loss, microsecond timestamps in the checkpoint text.
    expect(rows.map((r) => r.total)).toEqual(['19.99', '0.1', '123456789012345678.123456789', '5']);
    expect(rows[0]!.updated_at).toEqual(new Date('2026-11-20T10:00:00.000Z'));
    expect(source.positionOf(rows[2]!.row)).toEqual({ cursor: '2026-11-20 10:00:00.000002+00', key: '10' });
    expect(rows[2]!.skus).toEqual(['B', 'C']);
    expect(rows[0]!.buyer).toEqual({ email: 'a@example.com', tier: 'gold' });
    expect(rows[0]!.birthday).toBe('1990-03-05');
    expect(rows[0]!.items).toBe('[{"id":"A","item_price":"19.99"}]');
    expect(rows[0]!.placed).toBe('2026-11-20T10:00:00');
  });

  it('resumes after a position with named parameters, ties broken by primary key', async () => {
    const source = new BigquerySource(config({ table: 'orders', cursor: 'updated_at' }));
    const rows = await readAll(source, { after: { cursor: '2026-11-20 10:00:00.000002+00', key: '2' } });
    expect(rows.map((r) => r.order_id)).toEqual(['10', '3']);
    const job = fake.requests.filter((r) => r.method === 'POST').at(-1)!.body as { configuration: { query: { queryParameters: unknown[]; query: string } } };
    expect(job.configuration.query.queryParameters).toEqual([
      { name: 'p1', parameterType: { type: 'STRING' }, parameterValue: { value: '2026-11-20 10:00:00.000002+00' } },
      { name: 'p2', parameterType: { type: 'STRING' }, parameterValue: { value: '2' } },
    ]);
    expect(job.configuration.query.query).toContain('CAST(@p1 AS TIMESTAMP)');
  });

  it('streams pages with pageToken instead of buffering the result', async () => {
    const source = new BigquerySource(config({ table: 'big', primary_key: 'id', cursor: 'ts' }));
    await source.columns();
    const before = fake.requests.length;
    const sizes: number[] = [];
    const ids: unknown[] = [];
    for await (const page of source.read({ pageSize: 1000, columns: ['id'] })) {
      sizes.push(page.length);
      ids.push(...page.map((row) => row[0]));
    }
    // Pages of pageSize, from calls of at least 10,000 rows: a call per page would wait on Google.
    expect(sizes).toEqual(Array(25).fill(1000));
    expect(ids).toEqual(Array.from({ length: 25000 }, (_, i) => String(i)));
    const calls = fake.requests.slice(before).map((r) => new URLSearchParams(r.search)).filter((q) => q.has('maxResults'));
    expect(calls.map((q) => q.get('maxResults'))).toEqual(['10000', '10000', '10000']);
    expect(calls.map((q) => q.get('pageToken'))).toEqual([null, '10000', '20000']);
  });

  it('explains the errors a user can meet in one sentence with the fix', async () => {
    await expect(new BigquerySource(config({ table: 'nope' })).columns()).rejects.toThrow(/^BigQuery could not find it: .*Check source.project, source.dataset, source.table and source.location$/);
    fake.deniedDatasets.add('secret');
    await expect(new BigquerySource(config({ table: 'secret.orders' })).columns()).rejects.toThrow(/BigQuery denied access: .*roles\/bigquery.jobUser on project acme-prod and roles\/bigquery.dataViewer/);
    await expect(new BigquerySource(config({ query: 'SELEC 1' })).columns()).rejects.toThrow(/^BigQuery rejected the SQL: /);
    await expect(new BigquerySource(config({ table: 'orders', maximum_bytes_billed: 1000 })).columns()).rejects.toThrow(/would bill more than maximum_bytes_billed \(1000\)\. Raise the limit, or narrow the query/);
  });
});

describe('BigQuery errors without a server', () => {
  it('turns missing credentials into the fix', async () => {
    const { explainBigQueryError } = await import('../../src/sources/bigquery/index.js');
    const error = explainBigQueryError(new Error('Could not load the default credentials. Browse to https://cloud.google.com/docs/authentication'), config({ table: 't' }));
    expect(error.message).toBe('no usable Google credentials: set source.credentials_file to a service-account key, or GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth application-default login`');
  });
});
