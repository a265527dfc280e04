// The contract every source (DuckDB, PostgreSQL, BigQuery) implements, so the engine
// never depends on one warehouse.
import type { Row } from '../mapping/compile.js';

export { SourceError } from '../errors.js';

/** Where reading resumes: strictly after this (cursor, primary key) pair. */
export interface Position {
  /** Cursor value as exact text (full timestamp precision); null when the sync has no cursor. */
  cursor: string | null;
  /** Primary key value as text; null means after every row at this cursor value (`reset --to`). */
  key: string | null;
}

export interface ReadOptions {
  /** Columns each row carries, in this order (default: all of them). */
  columns?: readonly string[];
  /** Resume strictly after this position (the checkpoint). */
  after?: Position;
  /** Rows per page; pages are what the engine holds in memory. */
  pageSize?: number;
}

/** Each column's SQL type, in the source's column order. */
export type ColumnTypes = ReadonlyMap<string, string> | readonly (readonly [string, string])[];

export interface Source {
  /** Column names the source returns, in order. */
  columns(): Promise<string[]>;
  /** Column names and their SQL types, in order (described once, then remembered). */
  columnTypes(): Promise<Map<string, string>>;
  /** Rows (arrays in `columns` order) in stable (cursor, primary key) order, page by page. */
  read(options?: ReadOptions): AsyncIterable<Row[]>;
  /** Rows whose cursor or primary key is null: reads skip them, so runs warn about them. */
  unreadableRows(): Promise<number>;
  /** The position of a row from the current read, for checkpoints. */
  positionOf(row: Row): Position;
  /** Releases connections; safe to call more than once. */
  close(): Promise<void>;
}
