// DuckDB source: a database file (read-only) or an in-memory database whose query
// reads files (read_csv, read_parquet, read_json). Rows stream chunk by chunk.
import * as path from 'node:path';
import {
  DuckDBConnection, DuckDBInstance, DuckDBTypeId, JSDuckDBValueConverter, type DuckDBValueConverter, type JS,
} from '@duckdb/node-api';
import type { DuckdbSourceConfig } from '../../config/schema.js';
import type { Row } from '../../mapping/compile.js';
import { firstLine, quoteIdentifier, quoteQualified } from '../sql.js';
import { SourceError, type Position, type ReadOptions, type Source } from '../types.js';


// DECIMAL as exact text (19.99 must not become 19.990000000000002); everything else as JS values.
const toJs: DuckDBValueConverter<unknown> = (value, type, _self) =>
  type.typeId === DuckDBTypeId.DECIMAL && value !== null
    ? String(value)
    : JSDuckDBValueConverter(value, type, toJs as unknown as DuckDBValueConverter<JS>);


function quoteString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}


export class DuckdbSource implements Source {
  private instance?: DuckDBInstance;
  private connection?: DuckDBConnection;
  private columnTypes?: Map<string, string>;
  // Where the exact key and cursor text sit in rows of the current read.
  private keyAt = 0;
  private cursorAt = -1;

  /** @param baseDir directory of the sync file: relative paths (the database, files in queries) resolve from it. */
  constructor(private readonly config: DuckdbSourceConfig, private readonly baseDir: string) {}

  private relation(): string {
    return this.config.table !== undefined
      ? quoteQualified(this.config.table)
      : `(${this.config.query!.trim().replace(/;\s*$/, '')}\n) AS pinsync_source`;
  }

  private async connect(): Promise<DuckDBConnection> {
    if (this.connection) return this.connection;
    const file = this.config.path ? path.resolve(this.baseDir, this.config.path) : ':memory:';
    try {
      this.instance = await DuckDBInstance.create(file, this.config.path ? { access_mode: 'READ_ONLY' } : {});
      this.connection = await this.instance.connect();
      await this.connection.run(`SET file_search_path = ${quoteString(this.baseDir)}`);
    } catch (error) {
      throw new SourceError(`cannot open DuckDB database ${this.config.path ?? '(in memory)'}: ${firstLine(error)}`);
    }
    return this.connection;
  }

  private async describe(): Promise<Map<string, string>> {
    if (this.columnTypes) return this.columnTypes;
    const connection = await this.connect();
    try {
      const reader = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${this.relation()}`);
      const rows = reader.getRowObjectsJS() as { column_name: string; column_type: string }[];
      this.columnTypes = new Map(rows.map((r) => [r.column_name, r.column_type]));
    } catch (error) {
      throw new SourceError(`DuckDB cannot read the source ${this.config.table ? `table ${this.config.table}` : 'query'}: ${firstLine(error)}`);
    }
    return this.columnTypes;
  }

  async columns(): Promise<string[]> {
    return [...(await this.describe()).keys()];
  }

  async *read(options: ReadOptions = {}): AsyncIterable<Row[]> {
    const types = await this.describe();
    const { cursor, primary_key: key } = this.config;
    const keyType = types.get(key);
    if (keyType === undefined) throw new SourceError(`primary key column '${key}' is not in the source`);
    const cursorType = cursor === undefined ? undefined : types.get(cursor);
    if (cursor !== undefined && cursorType === undefined) throw new SourceError(`cursor column '${cursor}' is not in the source`);

    const qKey = quoteIdentifier(key);
    const columns = options.columns ?? [...types.keys()];
    // Each row: the requested columns, then the key and the cursor as exact text for checkpoints.
    const select = [...columns.map(quoteIdentifier), `CAST(${qKey} AS VARCHAR)`];
    this.keyAt = columns.length;
    this.cursorAt = -1;
    const order = [qKey];
    const params: string[] = [];
    let where = '';
    if (cursor !== undefined) {
      const qCursor = quoteIdentifier(cursor);
      select.push(`CAST(${qCursor} AS VARCHAR)`);
      this.cursorAt = columns.length + 1;
      order.unshift(qCursor);
      // Rows whose cursor is null cannot be placed relative to a checkpoint: not read (see unreadableRows).
      const after = options.after;
      if (after?.cursor != null && after.key !== null) {
        // Keyset resume: strictly after (cursor, key), comparing in the columns' own types.
        where = `WHERE (${qCursor}, ${qKey}) > (CAST($1 AS ${cursorType}), CAST($2 AS ${keyType}))`;
        params.push(after.cursor, after.key);
      } else if (after?.cursor != null) {
        // `reset --to`: after every row at this cursor value.
        where = `WHERE ${qCursor} > CAST($1 AS ${cursorType})`;
        params.push(after.cursor);
      } else where = `WHERE ${qCursor} IS NOT NULL`;
    } else if (options.after?.key != null) {
      where = `WHERE ${qKey} > CAST($1 AS ${keyType})`;
      params.push(options.after.key);
    }
    const keyFilter = `${qKey} IS NOT NULL`;
    where = where ? `${where} AND ${keyFilter}` : `WHERE ${keyFilter}`;
    const sql = `SELECT ${select.join(', ')} FROM ${this.relation()} ${where} ORDER BY ${order.join(', ')}`;
    const connection = await this.connect();
    const pageSize = options.pageSize ?? 2048;
    let result;
    try {
      result = await connection.stream(sql, params);
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

  /** Rows that cannot be placed against a checkpoint (null cursor or primary key): never read. */
  async unreadableRows(): Promise<number> {
    const nullable = [this.config.primary_key, this.config.cursor].filter((c): c is string => c !== undefined)
      .map((c) => `${quoteIdentifier(c)} IS NULL`).join(' OR ');
    const connection = await this.connect();
    const reader = await connection.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM ${this.relation()} WHERE ${nullable}`);
    return Number((reader.getRowObjectsJS()[0] as { n: number }).n);
  }

  positionOf(row: Row): Position {
    const cursor = this.cursorAt >= 0 ? row[this.cursorAt] : null;
    return { cursor: typeof cursor === 'string' ? cursor : null, key: String(row[this.keyAt]) };
  }

  async close(): Promise<void> {
    this.connection?.closeSync();
    this.instance?.closeSync();
    this.connection = undefined;
    this.instance = undefined;
  }
}

