// PostgreSQL source: keyset pages in (cursor, primary key) order, so memory stays flat
// whatever the table size and every page is an indexed range scan. Identifiers are
// quoted, values are bound parameters.
import type { Client, QueryConfig, QueryResultRow } from 'pg';
import { pg, Cursor } from './driver.js';
import type { PostgresSourceConfig } from '../../config/schema.js';
import type { Row } from '../../core/types.js';
import { ALIAS, firstLine } from '../sql.js';
import { SqlSource } from '../sql-source.js';
import { SourceError, RefusedQueryError, type ColumnTypes } from '../types.js';
import { parseTimestamp, parseTimestamptz } from './timestamps.js';

// Timestamps are the one type a run parses on every row; these skip pg's regular expression.
const FAST_PARSERS = new Map<number, (text: string) => Date>([
  [pg.types.builtins.TIMESTAMPTZ, parseTimestamptz],
  [pg.types.builtins.TIMESTAMP, parseTimestamp],
]);

/**
 * Why PostgreSQL refused to run the sync's SQL, if it was for doing more than one read: then
 * the sync file is at fault (exit 2), not the warehouse. Undefined for any other failure.
 */
export function refusal(error: unknown): RefusedQueryError | undefined {
  const { code, message = '' } = (error ?? {}) as { code?: string; message?: string };
  if (code === '42601' && /multiple commands/.test(message)) {
    return new RefusedQueryError('the query holds more than one statement: a sync runs exactly one SELECT; remove the semicolons between statements');
  }
  if (code === '25006' || (code === '0A000' && /data-modifying/.test(message))) {
    return new RefusedQueryError(`the query tries to write (${firstLine(error)}): a sync's query may only read; write a plain SELECT`);
  }
  return undefined;
}

export class PostgresSource extends SqlSource<PostgresSourceConfig> {
  private client?: Client;
  private closed = false;

  constructor(config: PostgresSourceConfig, known?: ColumnTypes) {
    super(config, known);
  }

  private async connect(): Promise<Client> {
    if (this.client) return this.client;
    const { url, host, port, database, user, password, ssl } = this.config;
    const client = new pg.Client({
      ...(url ? { connectionString: url } : { host, port, database, user, password }),
      ...(ssl !== undefined ? { ssl: ssl === 'no-verify' ? { rejectUnauthorized: false } : ssl === 'require' ? true : ssl } : {}),
      application_name: 'pinsync',
      types: {
        getTypeParser: ((oid: number, format?: string) =>
          (format !== 'binary' && FAST_PARSERS.get(oid)) || pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
      },
    });
    try {
      await client.connect();
      // Cursor text in UTC and ISO order, so a checkpoint means the same thing from any session.
      await client.query("SET TIME ZONE 'UTC'; SET DateStyle = 'ISO, YMD'");
    } catch (error) {
      // The connection failed already; its own error is the one to report.
      await client.end().catch(() => undefined);
      throw new SourceError(`cannot connect to PostgreSQL: ${firstLine(error)}`);
    }
    this.client = client;
    return client;
  }

  protected async describe(): Promise<Map<string, string>> {
    const client = await this.connect();
    try {
      const result = await this.readOnly(`SELECT * FROM ${this.relation()} AS ${ALIAS} LIMIT 0`);
      // Full type names with modifiers (character(12), not character), to cast checkpoint values exactly.
      const names = await client.query<{ name: string }>(
        'SELECT format_type(t.oid, t.mod) AS name FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS t(oid, mod, i) ORDER BY t.i',
        [result.fields.map((f) => f.dataTypeID), result.fields.map((f) => f.dataTypeModifier)],
      );
      return new Map(result.fields.map((f, i) => [f.name, names.rows[i]?.name ?? 'text']));
    } catch (error) {
      if (error instanceof SourceError || error instanceof RefusedQueryError) throw error;
      throw new SourceError(`PostgreSQL cannot read the source ${this.config.table ? `table ${this.config.table}` : 'query'}: ${firstLine(error)}`);
    }
  }

  /**
   * Runs one query that embeds the sync's SQL as exactly one read-only statement: through the
   * extended protocol, whose Parse takes a single statement (`SELECT 1) x; DROP TABLE t; ...`
   * is refused, never run), inside a READ ONLY transaction that is always rolled back.
   */
  private async readOnly<R extends QueryResultRow>(text: string, values: readonly unknown[] = []) {
    const client = await this.connect();
    await this.begin(client);
    try {
      // pg speaks the simple protocol (several statements allowed) unless told otherwise.
      return await client.query<R>({ text, values: [...values], queryMode: 'extended' } as QueryConfig);
    } catch (error) {
      throw refusal(error) ?? error;
    } finally {
      // A failed rollback leaves nothing to undo: the transaction was read only.
      await client.query('ROLLBACK').catch(() => undefined);
    }
  }

  /**
   * An explicit READ ONLY transaction for each query, rather than a session default: a session
   * default could be turned off by the query itself (set_config) for the queries after it.
   */
  private async begin(client: Client): Promise<void> {
    try {
      await client.query('BEGIN TRANSACTION READ ONLY');
    } catch (error) {
      throw new SourceError(`PostgreSQL query failed: ${firstLine(error)}`);
    }
  }

  protected async *query(text: string, values: readonly string[], pageSize: number): AsyncIterable<Row[]> {
    // One query, sorted once, fetched page by page through a server-side cursor: memory
    // stays flat whatever the table size, and the rows come from one consistent snapshot.
    // pg-cursor speaks the extended protocol (one statement only); the transaction makes it read only.
    const client = await this.connect();
    await this.begin(client);
    const cursorQuery = client.query(new Cursor<Row>(text, [...values], { rowMode: 'array' }));
    try {
      for (;;) {
        let rows: Row[];
        try {
          rows = await cursorQuery.read(pageSize);
        } catch (error) {
          throw refusal(error) ?? new SourceError(`PostgreSQL query failed: ${firstLine(error)}`);
        }
        if (rows.length === 0) return;
        yield rows;
      }
    } finally {
      // Closing or rolling back a read-only cursor that failed has nothing left to undo.
      await cursorQuery.close().catch(() => undefined);
      await client.query('ROLLBACK').catch(() => undefined);
    }
  }

  protected async one(sql: string, values: readonly string[] = []): Promise<Record<string, unknown>> {
    try {
      return (await this.readOnly(sql, values)).rows[0] ?? {};
    } catch (error) {
      if (error instanceof SourceError || error instanceof RefusedQueryError) throw error;
      throw new SourceError(`PostgreSQL query failed: ${firstLine(error)}`);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Ending a connection that broke already: nothing is left to release.
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}
