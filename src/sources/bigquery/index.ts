// BigQuery source: one standard-SQL query job in (cursor, primary key) order, with the
// checkpoint as named query parameters, read page by page (pageToken), never buffered whole.
import { BigQuery, type Job, type QueryResultsOptions } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';
import type { BigquerySourceConfig } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import type { Row } from '../../core/types.js';
import { redactQuoted, registerSecret } from '../../core/redact.js';
import { ALIAS, type Dialect } from '../sql.js';
import { SqlSource } from '../sql-source.js';
import { SourceError, RefusedQueryError, type ColumnTypes, type Unreadable } from '../types.js';

const quote = (name: string) => {
  if (name.includes('`')) throw new SourceError(`BigQuery names cannot contain backticks: ${name}`);
  return `\`${name}\``;
};

const BIGQUERY: Dialect = {
  quote, text: 'STRING', param: (n) => `@p${n}`, rowComparison: false, integer: 'INT64',
  // BigQuery casts to DATE only 'YYYY-MM-DD' text; through TIMESTAMP (UTC) it takes cursor text
  // with a time too, as the other sources do ('2026-11-20 00:00:00.000', a window's start).
  cast: (value, type) => (type === 'DATE' ? `CAST(CAST(${value} AS TIMESTAMP) AS DATE)` : `CAST(${value} AS ${type})`),
};
// Rows asked for per getQueryResults call, at the least: a run's pages are one batch (1,000
// rows by default), and a round trip per batch would leave the run waiting on Google.
const MIN_ROWS_PER_CALL = 10_000;

interface Field {
  name: string;
  type: string;
  mode?: string;
  fields?: Field[];
}

type Cell = { v: unknown };

// The REST schema's legacy type names, as GoogleSQL spells them in a CAST.
const SQL_TYPES: Record<string, string> = { INTEGER: 'INT64', FLOAT: 'FLOAT64', BOOLEAN: 'BOOL', RECORD: 'STRUCT' };
const sqlType = (type: string) => SQL_TYPES[type] ?? type;

/** A REST value (formatOptions.useInt64Timestamp) to the JS value the mapper expects. */
function convert(value: unknown, field: Field): unknown {
  if (value === null || value === undefined) return null;
  if (field.mode === 'REPEATED') return (value as Cell[]).map((c) => convert(c.v, { ...field, mode: 'NULLABLE' }));
  switch (field.type) {
    case 'TIMESTAMP': return new Date(Number(BigInt(value as string) / 1000n));
    case 'FLOAT': case 'FLOAT64': return Number(value);
    case 'BOOL': case 'BOOLEAN': return value === 'true';
    case 'RECORD': case 'STRUCT': {
      const cells = (value as { f: Cell[] }).f;
      return Object.fromEntries((field.fields ?? []).map((f, i) => [f.name, convert(cells[i]?.v, f)]));
    }
    // INT64, NUMERIC and BIGNUMERIC stay exact decimal text; DATE, DATETIME, JSON and the rest stay text.
    default: return value;
  }
}

/** One clear sentence with the fix, for the errors a user can meet. */
export function explainBigQueryError(error: unknown, config: BigquerySourceConfig): SourceError {
  const e = error as { code?: number; message?: string; errors?: { reason?: string; message?: string }[] };
  const reason = e.errors?.[0]?.reason ?? '';
  const message = redactQuoted((e.errors?.[0]?.message ?? e.message ?? String(error)).split('\n')[0]!);
  if (/default credentials|Could not load the default|invalid_grant|unauthorized_client/i.test(e.message ?? '')) {
    return new SourceError('no usable Google credentials: set source.credentials_file to a service-account key, or GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth application-default login`');
  }
  if (reason === 'bytesBilledLimitExceeded') {
    return new SourceError(`BigQuery refused the query: it would bill more than maximum_bytes_billed (${config.maximum_bytes_billed}). Raise the limit, or narrow the query (partition filter, fewer columns): ${message}`);
  }
  if (reason === 'accessDenied' || e.code === 403) {
    return new SourceError(`BigQuery denied access: ${message}. The credentials need roles/bigquery.jobUser on project ${config.project} and roles/bigquery.dataViewer on the dataset`);
  }
  if (reason === 'notFound' || e.code === 404) {
    return new SourceError(`BigQuery could not find it: ${message}. Check source.project, source.dataset, source.table and source.location`);
  }
  if (reason === 'invalidQuery' || reason === 'invalid') return new SourceError(`BigQuery rejected the SQL: ${message}`);
  return new SourceError(`BigQuery failed: ${message}`);
}

/** checkKey (from SqlSource): BigQuery bills the whole key column whatever the LIMIT; validate --connect says so. */
export class BigquerySource extends SqlSource<BigquerySourceConfig> {
  private client?: BigQuery;

  constructor(config: BigquerySourceConfig, known?: ColumnTypes) {
    super(config, known, BIGQUERY);
  }

  private bigquery(): BigQuery {
    if (this.client) return this.client;
    // A ready access token (as Terraform reads it) needs no key file and no token exchange.
    const token = process.env.GOOGLE_OAUTH_ACCESS_TOKEN;
    registerSecret(token);
    let authClient: OAuth2Client | undefined;
    if (token) {
      authClient = new OAuth2Client();
      authClient.setCredentials({ access_token: token, expiry_date: Date.now() + 3600_000 });
    }
    this.client = new BigQuery({
      projectId: this.config.project,
      location: this.config.location,
      ...(this.config.credentials_file ? { keyFilename: this.config.credentials_file } : {}),
      ...(authClient ? { authClient } : {}),
      ...(process.env.PINSYNC_BIGQUERY_API_URL ? { apiEndpoint: process.env.PINSYNC_BIGQUERY_API_URL } : {}),
    });
    return this.client;
  }

  protected override relation(): string {
    if (this.config.query !== undefined) return super.relation();
    const parts = this.config.table!.split('.');
    const full = parts.length === 3 ? parts : parts.length === 2 ? [this.config.project, ...parts] : [this.config.project, this.config.dataset ?? '', ...parts];
    return quote(full.join('.'));
  }

  /**
   * A query that embeds the sync's SQL runs only if BigQuery, in a dry run (free, nothing
   * runs), reads it as one SELECT: `SELECT 1) x; DELETE ...; SELECT * FROM (SELECT 1` is a
   * SCRIPT, and anything but SELECT would do more than read.
   */
  private async checkReadOnly(query: string, params: Record<string, string>): Promise<void> {
    let statementType: string | undefined;
    try {
      const [, response] = await this.bigquery().createQueryJob({ query, params, location: this.config.location, useLegacySql: false, dryRun: true });
      statementType = (response as { statistics?: { query?: { statementType?: string } } } | undefined)?.statistics?.query?.statementType;
    } catch (error) {
      throw explainBigQueryError(error, this.config);
    }
    if (statementType === 'SELECT') return;
    throw new RefusedQueryError(statementType === 'SCRIPT'
      ? 'the query holds more than one statement: a sync runs exactly one SELECT; remove the semicolons between statements'
      : `the query is ${statementType ? `a ${statementType} statement` : 'not a SELECT statement'}, which does more than read: write a single SELECT`);
  }

  private async startJob(query: string, values: readonly string[] = []): Promise<Job> {
    const params = Object.fromEntries(values.map((v, i) => [`p${i + 1}`, v]));
    if (this.config.query !== undefined) await this.checkReadOnly(query, params);
    try {
      const [job] = await this.bigquery().createQueryJob({
        query,
        params,
        location: this.config.location,
        useLegacySql: false,
        jobTimeoutMs: parseDuration(this.config.job_timeout) * 1000,
        ...(this.config.maximum_bytes_billed !== undefined ? { maximumBytesBilled: String(this.config.maximum_bytes_billed) } : {}),
      });
      // Wait for the job itself (polling its status) rather than for a page: a first page
      // request gives up after its own timeout while the job runs on.
      const limit = parseDuration(this.config.job_timeout) * 1000 + 30_000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        job.promise(),
        new Promise((_resolve, reject) => {
          timer = setTimeout(() => reject(new SourceError(`BigQuery did not finish the query within source.job_timeout (${this.config.job_timeout})`)), limit);
        }),
      ]).finally(() => clearTimeout(timer));
      return job;
    } catch (error) {
      throw error instanceof SourceError ? error : explainBigQueryError(error, this.config);
    }
  }

  /** One page of a job's results: raw REST rows with the schema. */
  private async page(job: Job, pageSize: number, pageToken?: string): Promise<{ fields: Field[]; rows: { f: Cell[] }[]; pageToken?: string }> {
    try {
      const options: QueryResultsOptions & { skipParsing: boolean } = {
        autoPaginate: false, maxResults: pageSize, skipParsing: true, timeoutMs: parseDuration(this.config.page_timeout) * 1000,
        ...(pageToken ? { pageToken } : {}),
      };
      const [rows, , response] = await job.getQueryResults(options);
      const meta = response as { schema?: { fields?: Field[] }; pageToken?: string; jobComplete?: boolean } | undefined;
      if (meta?.jobComplete === false) throw new SourceError(`BigQuery did not finish the query within source.page_timeout (${this.config.page_timeout})`);
      return { fields: meta?.schema?.fields ?? [], rows: (rows ?? []) as unknown as { f: Cell[] }[], pageToken: meta?.pageToken };
    } catch (error) {
      throw error instanceof SourceError ? error : explainBigQueryError(error, this.config);
    }
  }

  protected async describe(): Promise<Map<string, string>> {
    const job = await this.startJob(`SELECT * FROM ${this.relation()} AS ${ALIAS} LIMIT 0`);
    const { fields } = await this.page(job, 1);
    return new Map(fields.map((f) => [f.name, f.mode === 'REPEATED' ? `ARRAY<${sqlType(f.type)}>` : sqlType(f.type)]));
  }

  protected async *query(sql: string, values: readonly string[], pageSize: number): AsyncIterable<Row[]> {
    const job = await this.startJob(sql, values);
    // Each call is a round trip to Google: ask for at least MIN_ROWS_PER_CALL rows, hand them
    // out in pages of pageSize, and ask for the next rows while these are mapped.
    const perCall = Math.max(pageSize, MIN_ROWS_PER_CALL);
    let next = this.page(job, perCall);
    for (;;) {
      const page = await next;
      if (page.pageToken) {
        next = this.page(job, perCall, page.pageToken);
        // Awaited on the next turn; if the reader stops first, its failure must not go unhandled.
        next.catch(() => undefined);
      }
      for (let start = 0; start < page.rows.length; start += pageSize) {
        yield page.rows.slice(start, start + pageSize).map((row) => row.f.map((cell, i) => convert(cell.v, page.fields[i]!)));
      }
      if (!page.pageToken) return;
    }
  }

  /** The first row's raw REST values by column name. */
  protected async one(sql: string, values: readonly string[] = []): Promise<Record<string, unknown>> {
    const job = await this.startJob(sql, values);
    const { fields, rows } = await this.page(job, 1);
    return Object.fromEntries(fields.map((f, i) => [f.name, rows[0]?.f[i]?.v]));
  }

  /** Not counted: in BigQuery the count would bill a scan of the cursor column on every run. */
  override async unreadableRows(): Promise<Unreadable> {
    return { missing: 0, future: 0 };
  }

  async close(): Promise<void> {
    this.client = undefined;
  }
}
