// DuckDB source: a database file (read-only) or an in-memory database whose query
// reads files (read_csv, read_parquet, read_json). Rows stream chunk by chunk.
import * as path from 'node:path';
import {
  DuckDBConnection, DuckDBInstance, DuckDBTypeId, JSDuckDBValueConverter, StatementType, type DuckDBValueConverter, type JS,
} from '@duckdb/node-api';
import type { DuckdbSourceConfig } from '../../config/schema.js';
import type { Row } from '../../core/types.js';
import { ALIAS, firstLine } from '../sql.js';
import { SqlSource } from '../sql-source.js';
import { SourceError, RefusedQueryError, type ColumnTypes } from '../types.js';

// DECIMAL as exact text (19.99 must not become 19.990000000000002); everything else as JS values.
const toJs: DuckDBValueConverter<unknown> = (value, type, _self) =>
  type.typeId === DuckDBTypeId.DECIMAL && value !== null
    ? String(value)
    : JSDuckDBValueConverter(value, type, toJs as unknown as DuckDBValueConverter<JS>);

function quoteString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * The sync's query must be exactly one SELECT, checked before anything runs it: wrapped in a
 * subquery, `SELECT 1) x; COPY ... TO 'file'; SELECT * FROM (SELECT 1` would run three
 * statements, and COPY, ATTACH, INSTALL, SET or PRAGMA would do more than read. Parsing and
 * preparing run nothing; reading files (read_csv, read_parquet) stays allowed.
 */
async function checkQuery(connection: DuckDBConnection, query: string, wrapped: string): Promise<void> {
  let statements;
  try {
    statements = await connection.extractStatements(query);
  } catch (error) {
    // Text that parses only once wrapped closes the parenthesis it is wrapped in.
    const count = await connection.extractStatements(`SELECT * FROM ${wrapped} AS ${ALIAS}`).then((s) => s.count, () => 0);
    if (count > 1) throw new RefusedQueryError(`the query closes the parenthesis pinsync wraps it in and adds ${count - 1} statements: a sync runs exactly one SELECT`);
    throw new SourceError(`DuckDB cannot read the source query: ${firstLine(error)}`);
  }
  if (statements.count !== 1) {
    throw new RefusedQueryError(`the query holds ${statements.count} statements: a sync runs exactly one SELECT; remove the semicolons between them`);
  }
  let kind: StatementType;
  try {
    kind = (await statements.prepare(0)).statementType;
  } catch (error) {
    throw new SourceError(`DuckDB cannot read the source query: ${firstLine(error)}`);
  }
  if (kind !== StatementType.SELECT) {
    const name = StatementType[kind] ?? 'other';
    throw new RefusedQueryError(`the query is a${/^[AEIOU]/.test(name) ? 'n' : ''} ${name} statement, which does more than read: write a single SELECT (read_csv, read_parquet and read_json read files)`);
  }
}

export class DuckdbSource extends SqlSource<DuckdbSourceConfig> {
  private instance?: DuckDBInstance;
  private connection?: DuckDBConnection;
  protected override readonly defaultPageSize = 2048;

  /** @param baseDir directory of the sync file: relative paths (the database, files in queries) resolve from it. */
  constructor(config: DuckdbSourceConfig, private readonly baseDir: string, known?: ColumnTypes) {
    super(config, known);
  }

  private async connect(): Promise<DuckDBConnection> {
    if (this.connection) return this.connection;
    const file = this.config.path ? path.resolve(this.baseDir, this.config.path) : ':memory:';
    // Handed out only once checked: until then, nothing else runs on it.
    let connection: DuckDBConnection | undefined;
    try {
      this.instance = await DuckDBInstance.create(file, this.config.path ? { access_mode: 'READ_ONLY' } : {});
      connection = await this.instance.connect();
      await connection.run(`SET file_search_path = ${quoteString(this.baseDir)}`);
      // Cursor text and checkpoint casts in UTC, as with every source. Without the ICU extension
      // DuckDB has no TimeZone setting, and its times are in UTC already: a refusal is safe.
      await connection.run("SET TimeZone = 'UTC'").catch(() => undefined);
      // No setting changes after these, whatever runs next.
      await connection.run('SET lock_configuration = true');
    } catch (error) {
      connection?.closeSync();
      await this.close();
      throw new SourceError(`cannot open DuckDB database ${this.config.path ?? '(in memory)'}: ${firstLine(error)}`);
    }
    if (this.config.query !== undefined) {
      try {
        await checkQuery(connection, this.config.query, this.relation());
      } catch (error) {
        connection.closeSync();
        await this.close();
        throw error;
      }
    }
    this.connection = connection;
    return connection;
  }

  protected async describe(): Promise<Map<string, string>> {
    const connection = await this.connect();
    try {
      const reader = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${this.relation()} AS ${ALIAS}`);
      const rows = reader.getRowObjectsJS() as { column_name: string; column_type: string }[];
      return new Map(rows.map((r) => [r.column_name, r.column_type]));
    } catch (error) {
      throw new SourceError(`DuckDB cannot read the source ${this.config.table ? `table ${this.config.table}` : 'query'}: ${firstLine(error)}`);
    }
  }

  /** Rows stream chunk by chunk; a page is handed on once it holds at least `pageSize` rows. */
  protected async *query(sql: string, values: readonly string[], pageSize: number): AsyncIterable<Row[]> {
    const connection = await this.connect();
    let result;
    try {
      result = await connection.stream(sql, [...values]);
    } catch (error) {
      throw new SourceError(`DuckDB query failed: ${firstLine(error)}`);
    }
    let page: Row[] = [];
    const chunks = result.yieldConvertedRows(toJs)[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<unknown[][]>;
      try {
        next = await chunks.next();
      } catch (error) {
        throw new SourceError(`DuckDB query failed: ${firstLine(error)}`);
      }
      if (next.done) break;
      for (const row of next.value) page.push(row);
      if (page.length >= pageSize) {
        yield page;
        page = [];
      }
    }
    if (page.length > 0) yield page;
  }

  protected async one(sql: string, values: readonly string[] = []): Promise<Record<string, unknown>> {
    const connection = await this.connect();
    try {
      const reader = await connection.runAndReadAll(sql, [...values]);
      return (reader.getRowObjectsJS()[0] ?? {}) as Record<string, unknown>;
    } catch (error) {
      throw new SourceError(`DuckDB query failed: ${firstLine(error)}`);
    }
  }

  async close(): Promise<void> {
    this.connection?.closeSync();
    this.instance?.closeSync();
    this.connection = undefined;
    this.instance = undefined;
  }
}
