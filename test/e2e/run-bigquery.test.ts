// `pinsync run` from BigQuery: the built CLI, the official client against the local stand-in.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { FakeBigQuery } from '../helpers/fake-bigquery.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';

let work: string;
let bigquery: FakeBigQuery;
let pinterest: FakePinterest;

beforeAll(async () => {
  bigquery = await new FakeBigQuery().start();
  pinterest = await new FakePinterest().start();
  await bigquery.exec('CREATE SCHEMA marketing');
  await bigquery.exec(`CREATE TABLE marketing.conversions AS SELECT 'c' || i AS conversion_id, now() - INTERVAL 1 HOUR + to_microseconds(i) AS updated_at,
    'User' || i || '@Example.com' AS email, CAST(i AS DECIMAL(38, 9)) + 0.5 AS revenue FROM range(1, 1201) t(i)`);
  work = mkdtempSync(path.join(tmpdir(), 'pinsync-bq-'));
  mkdirSync(path.join(work, 'syncs'));
  writeFileSync(path.join(work, 'syncs', 'bq.yaml'), `version: 1
source:
  type: bigquery
  project: acme-prod
  dataset: marketing
  location: EU
  table: conversions
  primary_key: conversion_id
  cursor: updated_at
  maximum_bytes_billed: 10000000000
destination:
  ad_account_id: \${PINTEREST_AD_ACCOUNT_ID}
  access_token: \${PINTEREST_ACCESS_TOKEN}
  batch_size: 500
match:
  em: email
mappings:
  event_name: { value: checkout }
  action_source: { value: web }
  event_time: updated_at
  custom_data.value: revenue
`);
});

afterAll(async () => {
  await bigquery.stop();
  await pinterest.stop();
  rmSync(work, { recursive: true, force: true });
});

const env = () => ({
  PINSYNC_BIGQUERY_API_URL: bigquery.url, GOOGLE_OAUTH_ACCESS_TOKEN: 'ya29.secret-token',
  PINTEREST_API_URL: pinterest.url, PINTEREST_AD_ACCOUNT_ID: pinterest.adAccountId, PINTEREST_ACCESS_TOKEN: pinterest.token,
  PINSYNC_STATE: path.join(work, 'state.db'),
});

describe('pinsync run from BigQuery', () => {
  it('delivers every row once, then only new ones, with NUMERIC values exact', async () => {
    const first = await runCli(['run', 'bq', '--json'], { cwd: work, env: env() });
    expect(first.stderr).toBe('');
    expect(JSON.parse(first.stdout)).toMatchObject({ rows_read: 1200, processed: 1200 });
    expect(pinterest.delivered.size).toBe(1200);
    await bigquery.exec(`INSERT INTO marketing.conversions SELECT 'n' || i, now(), 'new' || i || '@example.com', 19.99 FROM range(1, 31) t(i)`);
    pinterest.delivered.clear();
    const second = await runCli(['run', 'bq', '--json'], { cwd: work, env: env() });
    expect(JSON.parse(second.stdout)).toMatchObject({ rows_read: 30, processed: 30 });
    expect([...pinterest.delivered.keys()].every((id) => id.startsWith('n'))).toBe(true);
    const preview = await runCli(['preview', 'bq', '--full-refresh', '--limit', '1'], { cwd: work, env: env() });
    expect(JSON.parse(preview.stdout).custom_data.value).toBe('1.5');
    expect(first.stdout + second.stdout + preview.stderr).not.toContain('secret-token');
  });

  it('fails with exit 1 and one sentence when the bytes-billed limit would be passed', async () => {
    bigquery.bytesPerQuery = 50_000_000_000;
    const result = await runCli(['run', 'bq'], { cwd: work, env: env() });
    bigquery.bytesPerQuery = 1_000_000;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/BigQuery refused the query: it would bill more than maximum_bytes_billed \(10000000000\)/);
  });
});
