// The contract every source (DuckDB, PostgreSQL, BigQuery) implements, so the engine
// never depends on one warehouse.
import type { Position, Row } from '../core/types.js';

export { SourceError, RefusedQueryError } from '../core/errors.js';
export type { Position } from '../core/types.js';

export interface ReadOptions {
  /** Columns each row carries, in this order (default: all of them). */
  columns?: readonly string[];
  /** Resume strictly after this position (the checkpoint). */
  after?: Position;
  /** Rows per page; pages are what the engine holds in memory. */
  pageSize?: number;
  /** Leave out rows whose cursor is later than this (cursor text): they wait for time to reach them. */
  until?: string;
  /** Also rows whose primary key is null (a read from the start without a cursor only): an audience's members. */
  withNullKeys?: boolean;
}

/** Rows a read leaves out, and why. */
export interface Unreadable {
  /**
   * A null cursor or primary key: they cannot be placed against a checkpoint. Counted only for a
   * read from the start (see sql.ts countsMissing): 0 for a read from a cursor checkpoint.
   */
  missing: number;
  /** A cursor later than the run's bound (`ReadOptions.until`): read once time reaches them. */
  future: number;
}

/** How often one primary key value repeats, over a bounded number of rows. */
export interface KeyCheck {
  /** Rows looked at (at most the limit asked for). */
  checked: number;
  /** Distinct primary key values among them. */
  distinctKeys: number;
  /** How many rows share the most repeated value. */
  most: number;
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
  /** Rows a read from `after` skips (null cursor or key, or a cursor after `until`), so runs warn about them. */
  unreadableRows(until?: string, after?: Position): Promise<Unreadable>;
  /** Repeats of the primary key over at most `limit` rows (validate --connect). */
  checkKey(limit: number): Promise<KeyCheck>;
  /** The position of a row from the current read, for checkpoints. */
  positionOf(row: Row): Position;
  /** Releases connections; safe to call more than once. */
  close(): Promise<void>;
}
