// A stand-in for the BigQuery REST API on 127.0.0.1, for the official client: jobs.insert
// runs the query (translated to DuckDB's dialect) against tables held in DuckDB, and
// getQueryResults pages through the result with pageToken, in BigQuery's wire format.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DuckDBConnection, DuckDBInstance, DuckDBListType, DuckDBStructType, DuckDBTypeId, StatementType,
  type DuckDBType, type DuckDBValue,
} from '@duckdb/node-api';

interface Field { name: string; type: string; mode: string; fields?: Field[] }
interface Result { fields: Field[]; rows: { f: { v: unknown }[] }[] }

const TYPE_NAMES: Record<string, string> = {
  STRING: 'VARCHAR', INT64: 'BIGINT', TIMESTAMP: 'TIMESTAMPTZ', NUMERIC: 'DECIMAL(38,9)', BIGNUMERIC: 'DECIMAL(38,9)',
  FLOAT64: 'DOUBLE', DATETIME: 'TIMESTAMP', BOOL: 'BOOLEAN', DATE: 'DATE',
};

/** BigQuery standard SQL, as pinsync writes it, in DuckDB's dialect. */
export function translate(sql: string): string {
  return sql
    .replace(/`([^`.]+)\.([^`.]+)\.([^`]+)`/g, '"$2"."$3"')
    .replace(/`([^`]+)`/g, '"$1"')
    .replace(/\bAS (STRING|INT64|TIMESTAMP|NUMERIC|BIGNUMERIC|FLOAT64|DATETIME|BOOL|DATE)\)/g, (_all, t: string) => `AS ${TYPE_NAMES[t]})`)
    .replace(/@(\w+)/g, '$$$1');
}

// What BigQuery's CAST from STRING accepts (GoogleSQL lexical structure: date, datetime and
// timestamp literals); DuckDB alone would accept more, e.g. a time after a DATE.
const DAY = String.raw`\d{4}-\d{1,2}-\d{1,2}`;
const TIME = String.raw`[ T]\d{1,2}:\d{1,2}:\d{1,2}(\.\d{1,6})?`;
const ZONE = String.raw`(Z|[+-]\d{1,2}(:\d{1,2})?| ?UTC| [A-Za-z_]+(/[A-Za-z_]+)+)`;
const CASTS: Record<string, RegExp> = {
  DATE: new RegExp(`^${DAY}$`),
  DATETIME: new RegExp(`^${DAY}(${TIME})?$`),
  TIMESTAMP: new RegExp(`^${DAY}(${TIME})?${ZONE}?$`, 'i'),
  INT64: /^[+-]?\d+$/,
};

/** The first text `sql` casts (a parameter's value or a string literal) that BigQuery would refuse, as its error message. */
export function refusedCast(sql: string, params: Record<string, string>): string | undefined {
  for (const m of sql.matchAll(/CAST\((?:@(\w+)|'((?:[^']|'')*)') AS (\w+)\)/gi)) {
    const type = m[3]!.toUpperCase();
    const value = m[1] !== undefined ? params[m[1]] : m[2]!.replace(/''/g, "'");
    if (value === undefined || value === null || !CASTS[type]) continue;
    if (!CASTS[type]!.test(value)) return `Invalid ${type === 'INT64' ? 'integer' : type.toLowerCase()} value: '${value}'`;
  }
  return undefined;
}

function fieldOf(name: string, type: DuckDBType): Field {
  switch (type.typeId) {
    case DuckDBTypeId.LIST: return { ...fieldOf(name, (type as DuckDBListType).valueType), mode: 'REPEATED' };
    case DuckDBTypeId.STRUCT: {
      const struct = type as DuckDBStructType;
      return { name, type: 'RECORD', mode: 'NULLABLE', fields: struct.entryNames.map((n, i) => fieldOf(n, struct.entryTypes[i]!)) };
    }
    case DuckDBTypeId.BIGINT: case DuckDBTypeId.INTEGER: case DuckDBTypeId.SMALLINT: return { name, type: 'INT64', mode: 'NULLABLE' };
    case DuckDBTypeId.DECIMAL: return { name, type: 'NUMERIC', mode: 'NULLABLE' };
    case DuckDBTypeId.TIMESTAMP_TZ: return { name, type: 'TIMESTAMP', mode: 'NULLABLE' };
    case DuckDBTypeId.TIMESTAMP: return { name, type: 'DATETIME', mode: 'NULLABLE' };
    case DuckDBTypeId.DATE: return { name, type: 'DATE', mode: 'NULLABLE' };
    case DuckDBTypeId.DOUBLE: case DuckDBTypeId.FLOAT: return { name, type: 'FLOAT64', mode: 'NULLABLE' };
    case DuckDBTypeId.BOOLEAN: return { name, type: 'BOOL', mode: 'NULLABLE' };
    default: return { name, type: 'STRING', mode: 'NULLABLE' };
  }
}

/** A DuckDB value on BigQuery's wire (formatOptions.useInt64Timestamp). */
function wire(value: DuckDBValue, field: Field): unknown {
  if (value === null) return null;
  if (field.mode === 'REPEATED') {
    const items = (value as unknown as { items: DuckDBValue[] }).items;
    return items.map((item) => ({ v: wire(item, { ...field, mode: 'NULLABLE' }) }));
  }
  if (field.type === 'RECORD') {
    const entries = (value as unknown as { entries: Record<string, DuckDBValue> }).entries;
    return { f: field.fields!.map((f) => ({ v: wire(entries[f.name] ?? null, f) })) };
  }
  if (field.type === 'TIMESTAMP') return String((value as unknown as { micros: bigint }).micros);
  if (field.type === 'BOOL') return String(value);
  if (field.type === 'DATETIME') return String(value).replace(' ', 'T');
  // BigQuery writes NUMERIC without trailing zeros.
  if (field.type === 'NUMERIC') return String(value).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
  return String(value);
}

export class FakeBigQuery {
  private server?: Server;
  private db?: DuckDBInstance;
  private connection?: DuckDBConnection;
  private jobs = new Map<string, Result>();
  url = '';
  readonly requests: { method: string; path: string; search: string; body?: unknown }[] = [];
  /** Datasets whose queries are refused with 403 accessDenied. */
  readonly deniedDatasets = new Set<string>();
  /** Bytes every query would bill, compared with maximumBytesBilled. */
  bytesPerQuery = 1_000_000;

  async start(): Promise<this> {
    this.db = await DuckDBInstance.create(':memory:');
    this.connection = await this.db.connect();
    await this.connection.run("SET TimeZone = 'UTC'");
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Runs DuckDB SQL to set up the "warehouse" (datasets are DuckDB schemas). */
  async exec(sql: string): Promise<void> {
    await this.connection!.run(sql);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
    this.connection?.closeSync();
    this.db?.closeSync();
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private error(res: ServerResponse, code: number, reason: string, message: string): void {
    this.send(res, code, { error: { code, message, errors: [{ reason, message, domain: 'global' }], status: reason } });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text ? JSON.parse(text) : undefined;
    this.requests.push({ method: req.method ?? '', path: url.pathname, search: url.search, body });
    const insert = /^\/bigquery\/v2\/projects\/([^/]+)\/jobs$/.exec(url.pathname);
    const results = /^\/bigquery\/v2\/projects\/([^/]+)\/queries\/([^/]+)$/.exec(url.pathname);
    const status = /^\/bigquery\/v2\/projects\/([^/]+)\/jobs\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && status) {
      if (!this.jobs.has(status[2]!)) return this.error(res, 404, 'notFound', `Not found: Job ${status[2]}`);
      return this.send(res, 200, { kind: 'bigquery#job', jobReference: { projectId: status[1], jobId: status[2] }, status: { state: 'DONE' } });
    }
    if (req.method === 'POST' && insert) return this.insertJob(res, insert[1]!, body);
    if (req.method === 'GET' && results) return this.results(res, results[2]!, url.searchParams);
    this.error(res, 404, 'notFound', `Not found: ${url.pathname}`);
  }

  private async insertJob(res: ServerResponse, project: string, body: Record<string, any>): Promise<void> {
    const query = body.configuration?.query ?? {};
    const jobId: string = body.jobReference?.jobId ?? `job_${this.jobs.size}`;
    const sql: string = query.query;
    for (const dataset of this.deniedDatasets) {
      if (sql.includes(`.${dataset}.`)) {
        return this.error(res, 403, 'accessDenied', `Access Denied: Table ${project}:${dataset}: User does not have permission to query table ${project}:${dataset}, or perhaps it does not exist.`);
      }
    }
    if (body.configuration?.dryRun) return this.dryRun(res, project, body);
    if (query.maximumBytesBilled !== undefined && this.bytesPerQuery > Number(query.maximumBytesBilled)) {
      return this.error(res, 400, 'bytesBilledLimitExceeded', `Query exceeded limit for bytes billed: ${query.maximumBytesBilled}. ${this.bytesPerQuery} or higher required.`);
    }
    const params: Record<string, string> = {};
    for (const p of query.queryParameters ?? []) params[p.name] = p.parameterValue?.value;
    const refused = refusedCast(sql, params);
    if (refused) return this.error(res, 400, 'invalidQuery', refused);
    try {
      const result = await this.connection!.runAndReadAll(translate(sql), params);
      const fields = result.columnNames().map((name, i) => fieldOf(name, result.columnTypes()[i]!));
      const rows = result.getRows().map((row) => ({ f: row.map((value, i) => ({ v: wire(value, fields[i]!) })) }));
      this.jobs.set(jobId, { fields, rows });
    } catch (error) {
      const message = (error as Error).message.split('\n')[0]!;
      if (/does not exist/.test(message)) return this.error(res, 404, 'notFound', `Not found: ${message}`);
      return this.error(res, 400, 'invalidQuery', message);
    }
    this.send(res, 200, {
      kind: 'bigquery#job', id: `${project}:${jobId}`, jobReference: { projectId: project, jobId, location: body.jobReference?.location ?? 'US' },
      configuration: body.configuration, status: { state: 'DONE' },
    });
  }

  /** A dry run: nothing runs; the job says what kind of statement the query is (several: a SCRIPT). */
  private async dryRun(res: ServerResponse, project: string, body: Record<string, any>): Promise<void> {
    let statementType: string;
    try {
      const statements = await this.connection!.extractStatements(translate(body.configuration.query.query));
      if (statements.count !== 1) statementType = 'SCRIPT';
      else {
        const type = (await statements.prepare(0)).statementType;
        statementType = type === StatementType.CREATE ? 'CREATE_TABLE_AS_SELECT' : type === StatementType.DROP ? 'DROP_TABLE' : StatementType[type]!;
      }
    } catch (error) {
      const message = (error as Error).message.split('\n')[0]!;
      if (/does not exist/.test(message)) return this.error(res, 404, 'notFound', `Not found: ${message}`);
      return this.error(res, 400, 'invalidQuery', message);
    }
    // As BigQuery answers a dry run: no job id, statistics only.
    this.send(res, 200, {
      kind: 'bigquery#job', jobReference: { projectId: project, location: body.jobReference?.location ?? 'US' },
      configuration: body.configuration, status: { state: 'DONE' },
      statistics: { totalBytesProcessed: '0', query: { totalBytesProcessed: '0', statementType } },
    });
  }

  private results(res: ServerResponse, jobId: string, params: URLSearchParams): void {
    const job = this.jobs.get(jobId);
    if (!job) return this.error(res, 404, 'notFound', `Not found: Job ${jobId}`);
    if (params.get('formatOptions.useInt64Timestamp') !== 'true') return this.error(res, 400, 'invalid', 'this fake only speaks int64 timestamps');
    const start = Number(params.get('pageToken') ?? 0);
    const size = Number(params.get('maxResults') ?? 100000);
    const rows = job.rows.slice(start, start + size);
    const next = start + size < job.rows.length ? String(start + size) : undefined;
    this.send(res, 200, {
      kind: 'bigquery#getQueryResultsResponse', jobComplete: true, schema: { fields: job.fields },
      totalRows: String(job.rows.length), rows, ...(next ? { pageToken: next } : {}), jobReference: { jobId },
    });
  }
}
