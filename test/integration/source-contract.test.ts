// Every source runs the one contract (test/helpers/source-contract.ts): a new source is a harness here.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { BigquerySource } from '../../src/sources/bigquery/index.js';
import { DuckdbSource } from '../../src/sources/duckdb/index.js';
import { PostgresSource } from '../../src/sources/postgres/index.js';
import { RedshiftSource } from '../../src/sources/redshift/index.js';
import { SnowflakeSource } from '../../src/sources/snowflake/index.js';
import { FakeBigQuery } from '../helpers/fake-bigquery.js';
import { FakeSnowflake } from '../helpers/fake-snowflake.js';
import { freshDatabase, withClient } from '../helpers/pg.js';
import { sourceContract, type HarnessDialect, type SourceHarness } from '../helpers/source-contract.js';

const text = (items: string[]) => items.map((i) => `'${i}'`).join(', ');
// BigQuery writes NUMERIC without trailing zeros.
const trimmed = (decimal: string) => decimal.replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');

function postgres(): SourceHarness {
  let url = '';
  const dialect: HarnessDialect = {
    types: { int: 'integer', timestamp: 'timestamptz', decimal: 'numeric(12,2)', list: 'text[]', text: 'text', date: 'date' },
    list: (items) => `ARRAY[${text(items)}]::text[]`,
    series: (name, rows) => `CREATE TABLE ${name} AS SELECT i AS id, timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second' AS ts FROM generate_series(1, ${rows}) i`,
  };
  return {
    name: 'PostgreSQL',
    dialect,
    async setup(statements) {
      url = await freshDatabase('source_contract');
      await withClient(url, async (c) => {
        for (const sql of statements(dialect)) await c.query(sql);
      });
    },
    teardown: async () => undefined,
    open: (options) => new PostgresSource({ type: 'postgres', url, ...options }),
    described: { int: 'integer', timestamp: 'timestamp with time zone', decimal: 'numeric(12,2)', list: 'text[]', text: 'text', date: 'date' },
    key: (n) => n,
    decimal: (d) => d,
    timestamp: (t) => `${t}+00`,
    chunk: 0,
    countsUnreadable: true,
  };
}

// Redshift's SQL and protocol against the embedded PostgreSQL: a JSON column stands in for SUPER
// (both are JSON text on the wire), VARCHAR(256) for Redshift's TEXT.
function redshift(): SourceHarness {
  let url = '';
  const dialect: HarnessDialect = {
    types: { int: 'integer', timestamp: 'timestamptz', decimal: 'numeric(12,2)', list: 'json', text: 'varchar(256)', date: 'date' },
    list: (items) => `'${JSON.stringify(items)}'`,
    series: (name, rows) => `CREATE TABLE ${name} AS SELECT i AS id, timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second' AS ts FROM generate_series(1, ${rows}) i`,
  };
  return {
    name: 'Redshift',
    dialect,
    async setup(statements) {
      url = await freshDatabase('source_contract_redshift');
      await withClient(url, async (c) => {
        for (const sql of statements(dialect)) await c.query(sql);
      });
    },
    teardown: async () => undefined,
    open: (options) => new RedshiftSource({ type: 'redshift', url, ssl: false, ...options }),
    described: dialect.types,
    key: (n) => n,
    decimal: (d) => d,
    timestamp: (t) => `${t}+00`,
    chunk: 0,
    countsUnreadable: true,
  };
}

function duckdb(): SourceHarness {
  let dir = '';
  const dialect: HarnessDialect = {
    types: { int: 'INTEGER', timestamp: 'TIMESTAMP', decimal: 'DECIMAL(12,2)', list: 'VARCHAR[]', text: 'VARCHAR', date: 'DATE' },
    list: (items) => `[${text(items)}]`,
    series: (name, rows) => `CREATE TABLE ${name} AS SELECT i::INTEGER AS id, TIMESTAMP '2026-01-01' + to_seconds(i) AS ts FROM range(1, ${rows + 1}) t(i)`,
  };
  return {
    name: 'DuckDB',
    dialect,
    async setup(statements) {
      dir = mkdtempSync(path.join(tmpdir(), 'pinsync-contract-'));
      const instance = await DuckDBInstance.create(path.join(dir, 'warehouse.duckdb'));
      const connection = await instance.connect();
      for (const sql of statements(dialect)) await connection.run(sql);
      connection.closeSync();
      instance.closeSync();
    },
    teardown: async () => rmSync(dir, { recursive: true, force: true }),
    open: (options) => new DuckdbSource({ type: 'duckdb', path: 'warehouse.duckdb', ...options }, dir),
    described: dialect.types,
    key: (n) => n,
    decimal: (d) => d,
    timestamp: (t) => t,
    // Rows come a DuckDB chunk (2,048 rows) at a time.
    chunk: 2048,
    countsUnreadable: true,
  };
}

function bigquery(): SourceHarness {
  let fake: FakeBigQuery;
  const dialect: HarnessDialect = {
    types: { int: 'BIGINT', timestamp: 'TIMESTAMPTZ', decimal: 'DECIMAL(38,9)', list: 'VARCHAR[]', text: 'VARCHAR', date: 'DATE' },
    list: (items) => `[${text(items)}]::VARCHAR[]`,
    series: (name, rows) => `CREATE TABLE ${name} AS SELECT i AS id, TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(i) AS ts FROM range(1, ${rows + 1}) t(i)`,
  };
  return {
    name: 'BigQuery',
    dialect,
    async setup(statements) {
      fake = await new FakeBigQuery().start();
      process.env.PINSYNC_BIGQUERY_API_URL = fake.url;
      process.env.GOOGLE_OAUTH_ACCESS_TOKEN = 'ya29.test-token';
      for (const sql of statements(dialect)) await fake.exec(sql);
    },
    async teardown() {
      delete process.env.PINSYNC_BIGQUERY_API_URL;
      delete process.env.GOOGLE_OAUTH_ACCESS_TOKEN;
      await fake.stop();
    },
    open: (options) => new BigquerySource({ type: 'bigquery', project: 'acme-prod', dataset: 'analytics', job_timeout: '1m', page_timeout: '1m', ...options }),
    described: { int: 'INT64', timestamp: 'TIMESTAMP', decimal: 'NUMERIC', list: 'ARRAY<STRING>', text: 'STRING', date: 'DATE' },
    key: String,
    decimal: trimmed,
    timestamp: (t) => `${t}+00`,
    chunk: 0,
    // Not counted: the count would bill a scan of the cursor column on every run.
    countsUnreadable: false,
  };
}

function snowflake(): SourceHarness {
  let fake: FakeSnowflake;
  // The stand-in's fixtures are DuckDB SQL: lower-case names are Snowflake's upper-case ones.
  const dialect: HarnessDialect = {
    types: { int: 'BIGINT', timestamp: 'TIMESTAMP', decimal: 'DECIMAL(12,2)', list: 'VARCHAR[]', text: 'VARCHAR', date: 'DATE' },
    list: (items) => `[${text(items)}]::VARCHAR[]`,
    series: (name, rows) => `CREATE TABLE ${name} AS SELECT i AS id, TIMESTAMP '2026-01-01 00:00:00' + to_seconds(i) AS ts FROM range(1, ${rows + 1}) t(i)`,
  };
  return {
    name: 'Snowflake',
    dialect,
    async setup(statements) {
      fake = await new FakeSnowflake({ chunkRows: 1000 }).start();
      process.env.PINSYNC_SNOWFLAKE_URL = fake.url;
      for (const sql of statements(dialect)) await fake.exec(sql);
    },
    async teardown() {
      delete process.env.PINSYNC_SNOWFLAKE_URL;
      await fake.stop();
    },
    open: (options) => new SnowflakeSource({
      type: 'snowflake', account: fake.account, user: fake.user, password: fake.password, warehouse: 'PINSYNC_WH', database: 'PINSYNC_DB', statement_timeout: '1m', ...options,
    }, 'contract'),
    described: { int: 'NUMBER(38,0)', timestamp: 'TIMESTAMP_NTZ', decimal: 'NUMBER(12,2)', list: 'ARRAY', text: 'VARCHAR', date: 'DATE' },
    key: String,
    decimal: (d) => d,
    // TIMESTAMP_NTZ as text with nanoseconds (FF9).
    timestamp: (t) => `${t}000`,
    chunk: 0,
    countsUnreadable: true,
  };
}

sourceContract(postgres());
sourceContract(redshift());
sourceContract(duckdb());
sourceContract(bigquery());
sourceContract(snowflake());
