// Snowflake source: one query in (cursor, primary key) order through the official driver
// (snowflake-sdk), its result streamed row by row (the driver fetches result chunks as rows
// are read) and handed out in pages, never buffered whole. docs/adr/0013-snowflake-source.md.
import { readFileSync } from 'node:fs';
import type { Column, Connection, ConnectionOptions, RowStatement, SnowflakeError } from 'snowflake-sdk';
import type { SnowflakeSourceConfig } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import type { Row } from '../../core/types.js';
import { registerSecret } from '../../core/redact.js';
import { ALIAS, queryBody, quoteIdentifier, type Dialect } from '../sql.js';
import { SqlSource } from '../sql-source.js';
import { RefusedQueryError, SourceError, type ColumnTypes } from '../types.js';
import { explainSnowflakeError } from './errors.js';
import { exposedColumns, exposedName, quoteTable, snowflakeName } from './names.js';

type Sdk = typeof import('snowflake-sdk');

// Timestamps as text with every digit (Snowflake's default shows milliseconds: ties in a
// checkpoint would be lost), in UTC, so cursor text casts back to the same instant.
// TIMESTAMP_LTZ shows the session's zone (UTC), so no offset is needed; TIMESTAMP_TZ keeps its own.
const NTZ_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF9';
const TZ_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF9 TZH:TZM';

const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined, trace: () => undefined };

let driver: Promise<Sdk> | undefined;

/** The driver, loaded once, with nothing that writes files or calls out beyond the account. */
function loadDriver(): Promise<Sdk> {
  driver ??= (async () => {
    // Read when the driver loads: it would probe cloud metadata addresses (AWS, Azure, GCP) at
    // import, send connection-shape telemetry, and load a native helper whose failure it reports.
    process.env.SNOWFLAKE_DISABLE_PLATFORM_DETECTION ??= 'true';
    process.env.SF_TELEMETRY_DISABLE_CONNECTION_SHAPE ??= 'true';
    process.env.SNOWFLAKE_DISABLE_MINICORE ??= 'true';
    const module = await import('snowflake-sdk');
    const snowflake = ((module as { default?: Sdk }).default ?? module) as Sdk;
    // Its default logger writes snowflake.log in the working directory.
    snowflake.configure({ logLevel: 'OFF', additionalLogToConsole: false, customLogger: silent });
    return snowflake;
  })();
  return driver;
}

/** A quoted SQL string literal. */
const literal = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

function snowflakeDialect(described: Map<string, string>): Dialect {
  return {
    quote: (name) => quoteIdentifier(snowflakeName(name, described)),
    text: 'VARCHAR',
    // Numbered binds: one value appears twice in the keyset filter.
    param: (n) => `:${n}`,
    // Snowflake has no row-value comparison ((a, b) > (x, y)).
    rowComparison: false,
    integer: 'NUMBER(38,0)',
    // Through TIMESTAMP_NTZ a DATE takes cursor text with a time too ('2026-11-20 00:00:00.000').
    cast: (value, type) => (type === 'DATE' ? `CAST(CAST(${value} AS TIMESTAMP_NTZ) AS DATE)` : `CAST(${value} AS ${type})`),
  };
}

/** A result column's type as a CAST takes it. */
export function sqlTypeOf(column: Pick<Column, 'getType' | 'getPrecision' | 'getScale'>): string {
  const type = column.getType().toUpperCase();
  if (type === 'FIXED') return `NUMBER(${column.getPrecision()},${column.getScale()})`;
  if (type === 'REAL') return 'FLOAT';
  if (type === 'TEXT') return 'VARCHAR';
  return type;
}

type Convert = (value: unknown) => unknown;

/** A driver value to what the mapper expects: NUMBER exact text, FLOAT a number, timestamps Dates. */
export function converterOf(type: string): Convert {
  switch (type.toLowerCase()) {
    case 'real': return (v) => (v === null || v === undefined ? null : Number(v));
    case 'timestamp_ntz': case 'timestamp_ltz': case 'timestamp_tz':
      // The driver's Date carries its own toJSON (Snowflake's text format): a plain Date serializes as ISO.
      return (v) => (v instanceof Date ? new Date(v.getTime()) : v ?? null);
    case 'date':
      return (v) => (v instanceof Date ? v.toISOString().slice(0, 10) : v ?? null);
    // fixed (NUMBER) arrives as exact text (fetchAsString), variant/object/array parsed, the rest as is.
    default: return (v) => (v === undefined ? null : v);
  }
}

/**
 * checkKey and unreadableRows (from SqlSource) run on the warehouse: each scans the key or
 * cursor column (credits; docs/snowflake.md). Every query carries the QUERY_TAG `pinsync:<sync>`.
 */
export class SnowflakeSource extends SqlSource<SnowflakeSourceConfig> {
  private connection?: Promise<Connection>;
  private readOnlyChecked = false;
  private readonly described: Map<string, string>;

  constructor(config: SnowflakeSourceConfig, private readonly syncName: string, known?: ColumnTypes) {
    const described = new Map<string, string>();
    // The keys resolve as column names do: `id` or `ID` is the column ID.
    const resolve = (name: string) => exposedName(snowflakeName(name));
    super({ ...config, primary_key: resolve(config.primary_key), ...(config.cursor !== undefined ? { cursor: resolve(config.cursor) } : {}) },
      known, snowflakeDialect(described));
    this.described = described;
    registerSecret(config.password);
    registerSecret(config.oauth_token);
    registerSecret(config.private_key_passphrase);
  }

  private options(): ConnectionOptions {
    const c = this.config;
    // Users paste the URL; the driver wants the identifier and builds the URL from it (or fails on DNS).
    if (/:\/\/|\/|snowflakecomputing\.com/i.test(c.account)) {
      const identifier = /^(?:[a-z]+:\/\/)?([^/]+?)\.snowflakecomputing\.com/i.exec(c.account)?.[1];
      throw new SourceError(`source.account is the account identifier, not a URL: write ${identifier ?? 'the part before .snowflakecomputing.com'}${identifier ? ' (the part before .snowflakecomputing.com)' : ' (e.g. myorg-myaccount)'}`);
    }
    const auth: Partial<ConnectionOptions> = {};
    if (c.private_key_file !== undefined) {
      let key: string;
      try {
        key = readFileSync(c.private_key_file, 'utf8');
      } catch (error) {
        throw new SourceError(`cannot read source.private_key_file (${c.private_key_file}): ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}; check the path, relative to the sync file`);
      }
      registerSecret(key);
      Object.assign(auth, { authenticator: 'SNOWFLAKE_JWT', privateKey: key, ...(c.private_key_passphrase ? { privateKeyPass: c.private_key_passphrase } : {}) });
    } else if (c.oauth_token !== undefined) {
      Object.assign(auth, { authenticator: 'OAUTH', token: c.oauth_token });
    } else {
      Object.assign(auth, { authenticator: 'SNOWFLAKE', password: c.password ?? '' });
    }
    const url = process.env.PINSYNC_SNOWFLAKE_URL;
    return {
      account: c.account,
      ...(c.user !== undefined ? { username: c.user } : {}),
      ...(url ? { accessUrl: url } : {}),
      ...(c.warehouse !== undefined ? { warehouse: c.warehouse } : {}),
      ...(c.database !== undefined ? { database: c.database } : {}),
      ...(c.schema !== undefined ? { schema: c.schema } : {}),
      ...(c.role !== undefined ? { role: c.role } : {}),
      ...auth,
      // Also sent at login and with every statement, so no query of the run goes untagged.
      queryTag: this.queryTag(),
      clientSessionKeepAlive: false,
      // Otherwise a null fetched as text (NUMBER) is the string 'NULL'.
      representNullAsStringNull: false,
      clientStoreTemporaryCredential: false,
      clientRequestMFAToken: false,
      // A login that cannot work fails in seconds, not after the driver's five minutes of retries.
      sfRetryMaxLoginRetries: 2,
    } as ConnectionOptions;
  }

  private queryTag(): string {
    return `pinsync:${this.syncName}`;
  }

  private connect(): Promise<Connection> {
    this.connection ??= (async () => {
      const snowflake = await loadDriver();
      let connection: Connection;
      try {
        // The driver checks the options (the account's form, the private key) here, synchronously.
        connection = snowflake.createConnection(this.options());
        await new Promise<void>((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve())));
      } catch (error) {
        throw explainSnowflakeError(error, this.config);
      }
      // One statement that sets the session: UTC, timestamps with nanoseconds, the timeout, strict JSON.
      const seconds = Math.max(1, Math.ceil(parseDuration(this.config.statement_timeout)));
      try {
        await this.execute(connection, `ALTER SESSION SET TIMEZONE = 'UTC', STATEMENT_TIMEOUT_IN_SECONDS = ${seconds}, `
          + `TIMESTAMP_NTZ_OUTPUT_FORMAT = '${NTZ_FORMAT}', TIMESTAMP_LTZ_OUTPUT_FORMAT = '${NTZ_FORMAT}', TIMESTAMP_TZ_OUTPUT_FORMAT = '${TZ_FORMAT}', `
          + `DATE_OUTPUT_FORMAT = 'YYYY-MM-DD', STRICT_JSON_OUTPUT = TRUE, QUERY_TAG = ${literal(this.queryTag())}`, [], {});
      } catch (error) {
        await new Promise<void>((resolve) => connection.destroy(() => resolve()));
        throw error;
      }
      return connection;
    })();
    // A failed login leaves nothing behind: the next call on this source logs in again.
    this.connection.catch(() => { this.connection = undefined; });
    return this.connection;
  }

  /** Runs one statement; resolves when Snowflake has answered (rows are streamed afterwards). */
  private execute(connection: Connection, sqlText: string, binds: readonly string[], options: { describeOnly?: boolean; rowMode?: 'array' | 'object' }): Promise<RowStatement> {
    return new Promise<RowStatement>((resolve, reject) => {
      connection.execute({
        sqlText,
        binds: [...binds],
        streamResult: true,
        fetchAsString: ['Number'],
        rowMode: options.rowMode ?? 'array',
        ...(options.describeOnly ? { describeOnly: true } : {}),
        // Exactly one statement: a query that closes its parenthesis to add another is refused unrun.
        parameters: { MULTI_STATEMENT_COUNT: 1, QUERY_TAG: this.queryTag() },
        complete: (error: SnowflakeError | undefined, statement: RowStatement) => (error ? reject(error) : resolve(statement)),
      });
    }).catch((error: unknown) => { throw explainSnowflakeError(error, this.config); });
  }

  protected override relation(): string {
    return this.config.table !== undefined ? quoteTable(this.config.table) : super.relation();
  }

  /**
   * A sync's query runs only if Snowflake, compiling it alone (describeOnly: nothing runs, no
   * warehouse), reads it as one statement that is not a write. The driver tells DML apart
   * (getNumUpdatedRows is -1 for anything else); any other non-query fails to compile inside
   * the subquery every read wraps it in.
   */
  private async checkReadOnly(connection: Connection): Promise<void> {
    if (this.config.query === undefined || this.readOnlyChecked) return;
    const statement = await this.execute(connection, queryBody(this.config.query), [], { describeOnly: true });
    // -1 for anything but DML; for DML it counts the rows changed (none compiled: the driver throws).
    let updated: number | undefined;
    try {
      updated = statement.getNumUpdatedRows();
    } catch {
      updated = 0;
    }
    if (updated !== -1) {
      throw new RefusedQueryError('the query writes (INSERT, UPDATE, DELETE or MERGE), which does more than read: write a single SELECT');
    }
    this.readOnlyChecked = true;
  }

  private async statement(sql: string, values: readonly string[], options: { describeOnly?: boolean; rowMode?: 'array' | 'object' } = {}): Promise<RowStatement> {
    const connection = await this.connect();
    await this.checkReadOnly(connection);
    return this.execute(connection, sql, values, options);
  }

  protected async describe(): Promise<Map<string, string>> {
    const statement = await this.statement(`SELECT * FROM ${this.relation()} AS ${ALIAS} LIMIT 0`, [], { describeOnly: true });
    const columns = statement.getColumns() ?? [];
    const names = exposedColumns(columns.map((column) => column.getName()));
    for (const [exposed, name] of names) this.described.set(exposed, name);
    return new Map([...names.keys()].map((exposed, i) => [exposed, sqlTypeOf(columns[i]!)]));
  }

  protected async *query(sql: string, values: readonly string[], pageSize: number): AsyncIterable<Row[]> {
    const statement = await this.statement(sql, values);
    const convert = (statement.getColumns() ?? []).map((column) => converterOf(column.getType()));
    let page: Row[] = [];
    try {
      // Async iteration reads a row when the reader is ready for it: back-pressure on the driver's chunk downloads.
      for await (const raw of statement.streamRows() as AsyncIterable<unknown[]>) {
        page.push(raw.map((value, i) => convert[i]!(value)));
        if (page.length >= pageSize) {
          yield page;
          page = [];
        }
      }
    } catch (error) {
      // The query ran and its first rows came: a failure now is mid-read (chunk downloads).
      throw explainSnowflakeError(error, this.config, undefined, true);
    }
    if (page.length) yield page;
  }

  /** The first row by column name (upper-case aliases as the sync file writes them), NUMBER as text. */
  protected async one(sql: string, values: readonly string[] = []): Promise<Record<string, unknown>> {
    const statement = await this.statement(sql, values, { rowMode: 'object' });
    try {
      for await (const row of statement.streamRows() as AsyncIterable<Record<string, unknown>>) {
        return Object.fromEntries(Object.entries(row).map(([name, value]) => [exposedName(name), value]));
      }
    } catch (error) {
      throw explainSnowflakeError(error, this.config);
    }
    return {};
  }

  async close(): Promise<void> {
    const pending = this.connection;
    this.connection = undefined;
    if (!pending) return;
    const connection = await pending.catch(() => undefined);
    if (!connection?.isUp()) return;
    await new Promise<void>((resolve) => connection.destroy(() => resolve()));
  }
}
