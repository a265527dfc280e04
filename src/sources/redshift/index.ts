// Redshift source: PostgreSQL's protocol through pg, but only SQL that Redshift documents. The read
// is one keyset query through DECLARE ... CURSOR and FETCH FORWARD in a READ ONLY transaction
// (docs/adr/0012-redshift-source.md); column types come from the result's own description.
import type { Client, QueryArrayConfig, QueryConfig, QueryResultRow } from 'pg';
import type { RedshiftSourceConfig } from '../../config/schema.js';
import type { Row } from '../../core/types.js';
import { refusal } from '../postgres/index.js';
import { pg } from '../postgres/driver.js';
import { parseTimestamp, parseTimestamptz } from '../postgres/timestamps.js';
import { ALIAS, firstLine, planRead } from '../sql.js';
import { SqlSource } from '../sql-source.js';
import { SourceError, type ColumnTypes, type ReadOptions } from '../types.js';
import { connectionLost, explainRedshiftError } from './errors.js';
import { inlined, REDSHIFT_SQL, SUPER_OID, typeName } from './sql.js';

/** Rows one FETCH asks for: Redshift's largest count on single-node clusters (its FETCH reference). */
export const FETCH_MAX = 1000;
const CURSOR = 'pinsync_read';

/** A SUPER value from its JSON text; any other text stays text rather than failing the read. */
export function parseSuper(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

const PARSERS = new Map<number, (text: string) => unknown>([
  [pg.types.builtins.TIMESTAMPTZ, parseTimestamptz],
  [pg.types.builtins.TIMESTAMP, parseTimestamp],
  // SUPER values arrive as JSON text (Redshift's SUPER ingestion guide); contents and content_ids need arrays and objects.
  [SUPER_OID, parseSuper],
]);

/** The url with Redshift's port when it names none (pg would use PostgreSQL's 5432). */
export function withRedshiftPort(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.port !== '') return url;
    parsed.port = '5439';
    return parsed.toString();
  } catch {
    return url;
  }
}

export class RedshiftSource extends SqlSource<RedshiftSourceConfig> {
  private client?: Client;
  private closed = false;

  constructor(config: RedshiftSourceConfig, known?: ColumnTypes) {
    super(config, known, REDSHIFT_SQL);
  }

  private get what(): string {
    return this.config.table !== undefined ? `table ${this.config.table}` : 'query';
  }

  private async connect(): Promise<Client> {
    if (this.client) return this.client;
    const { url, host, port, database, user, password, ssl } = this.config;
    // pg reads the console's JDBC url, or an endpoint without a scheme, as no host at all, and would try localhost:5432.
    if (url !== undefined && (/^jdbc:/i.test(url) || !url.includes('://'))) {
      throw new SourceError('source.url is not a postgres:// connection string: write it as postgres://user:password@endpoint:5439/dev (from a JDBC url, replace jdbc:redshift:// with postgres:// and add the user and percent-encoded password)');
    }
    const options = {
      ...(url ? { connectionString: withRedshiftPort(url) } : { host, port: port ?? 5439, database, user, password }),
      ssl: ssl === 'no-verify' ? { rejectUnauthorized: false } : ssl === 'require' ? true : ssl,
      application_name: 'pinsync',
      // A security group that drops packets would otherwise leave the connection hanging for minutes.
      connectionTimeoutMillis: 60_000,
      // The leader node may compute for minutes before the first FETCH answers; keep NAT and load balancers from dropping the idle socket.
      keepAlive: true,
      // Probes after a minute of silence: the OS default (2 hours on Linux) outlasts a NAT gateway's 350 s idle timeout, and a dead peer would hang the read for hours.
      keepAliveInitialDelayMillis: 60_000,
      types: {
        getTypeParser: ((oid: number, format?: string) =>
          (format !== 'binary' && PARSERS.get(oid)) || pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
      },
    };
    let client: Client;
    try {
      client = new pg.Client(options);
    } catch (error) {
      // pg's own "Invalid URL" names neither the key nor the usual cause; the url itself is never shown.
      throw new SourceError(`source.url is not a connection string (${firstLine(error)}): write it as postgres://user:password@host:5439/database, with any of : / ? # @ % in the user name or password percent-encoded`);
    }
    // A dropped connection emits 'error' on the client; the next query reports it.
    client.on('error', () => undefined);
    try {
      await client.connect();
      // Cursor text in UTC and ISO order, so a checkpoint means the same thing from any session.
      await client.query("SET timezone TO 'UTC'");
      await client.query("SET datestyle TO 'ISO, YMD'");
    } catch (error) {
      // The connection failed already; its own error is the one to report.
      await client.end().catch(() => undefined);
      throw explainRedshiftError(error, this.what);
    }
    this.client = client;
    return client;
  }

  /** The error to report for a statement that failed on an open connection; a lost connection is dropped, so a later statement connects again. */
  private failure(error: unknown): Error {
    const lost = connectionLost(error, this.what);
    if (lost && this.client) {
      // Ending a connection that broke already: nothing is left to release.
      void this.client.end().catch(() => undefined);
      this.client = undefined;
    }
    return refusal(error) ?? lost ?? explainRedshiftError(error, this.what);
  }

  /** An explicit READ ONLY transaction for each statement (BEGIN's documented option), always rolled back. */
  private async begin(client: Client): Promise<void> {
    try {
      await client.query('BEGIN READ ONLY');
    } catch (error) {
      throw this.failure(error);
    }
  }

  /**
   * Runs one statement that embeds the sync's SQL, through the extended protocol, whose Parse takes a
   * single statement (`SELECT 1) x; DROP TABLE t; ...` is refused, never run), in a READ ONLY transaction.
   */
  private async readOnly<R extends QueryResultRow>(text: string, values: readonly unknown[] = []) {
    const client = await this.connect();
    await this.begin(client);
    try {
      return await client.query<R>({ text, values: [...values], queryMode: 'extended' } as QueryConfig);
    } catch (error) {
      throw this.failure(error);
    } finally {
      // A failed rollback leaves nothing to undo: the transaction was read only.
      await client.query('ROLLBACK').catch(() => undefined);
    }
  }

  protected async describe(): Promise<Map<string, string>> {
    // The result's RowDescription: type OIDs and modifiers, named without PostgreSQL's catalog functions.
    const result = await this.readOnly(`SELECT * FROM ${this.relation()} AS ${ALIAS} LIMIT 0`);
    return new Map(result.fields.map((f) => [f.name, typeName(f.dataTypeID, f.dataTypeModifier)]));
  }

  override async *read(options: ReadOptions = {}): AsyncIterable<Row[]> {
    const types = await this.columnTypes();
    const columns = options.columns ?? [...types.keys()];
    // Planned twice: for its values, then with each value written where its parameter stood.
    const { values } = planRead(this.config, types, columns, options.after, this.dialect, options.until, options.withNullKeys);
    const plan = planRead(this.config, types, columns, options.after, inlined(this.dialect, values), options.until, options.withNullKeys);
    this.layout = plan.layout;
    yield* this.query(`SELECT ${plan.select} FROM ${this.relation()} AS ${ALIAS} WHERE ${plan.where} ORDER BY ${plan.orderBy}`,
      [], options.pageSize ?? this.defaultPageSize);
  }

  /**
   * One cursor (Redshift allows one per session) over the whole query, fetched FETCH_MAX rows at a
   * time into pages; closed and rolled back at the end, on an error, and when the reader stops early.
   * `values` must be empty: read() writes them into the SQL, as DECLARE takes no bound parameters here.
   */
  protected async *query(sql: string, values: readonly string[], pageSize: number): AsyncIterable<Row[]> {
    if (values.length > 0) throw new SourceError('the Redshift source writes checkpoint values into its SQL; it binds none');
    const client = await this.connect();
    await this.begin(client);
    const failed = (error: unknown) => this.failure(error);
    try {
      try {
        await client.query({ text: `DECLARE ${CURSOR} CURSOR FOR ${sql}`, queryMode: 'extended' } as QueryConfig);
      } catch (error) {
        throw failed(error);
      }
      for (let done = false; !done;) {
        const page: Row[] = [];
        while (page.length < pageSize) {
          const count = Math.min(FETCH_MAX, pageSize - page.length);
          let rows: Row[];
          try {
            rows = (await client.query({ text: `FETCH FORWARD ${count} FROM ${CURSOR}`, rowMode: 'array' } as QueryArrayConfig)).rows as Row[];
          } catch (error) {
            throw failed(error);
          }
          for (const row of rows) page.push(row);
          if (rows.length < count) {
            done = true;
            break;
          }
        }
        if (page.length > 0) yield page;
      }
    } finally {
      // After a failure the transaction is aborted and CLOSE fails; the rollback closes the cursor anyway.
      await client.query(`CLOSE ${CURSOR}`).catch(() => undefined);
      await client.query('ROLLBACK').catch(() => undefined);
    }
  }

  protected async one(sql: string, values: readonly string[] = []): Promise<Record<string, unknown>> {
    return (await this.readOnly(sql, values)).rows[0] ?? {};
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Ending a connection that broke already: nothing is left to release.
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}

