// What every SQL source shares: the keyset read, the counts and the key check planned once
// (sql.ts), column types described once, checkpoint positions. A source adds its driver:
// how to describe the relation, run a query as pages, run a query for one row, and close.
import type { Row } from '../core/types.js';
import { ALIAS, countsMissing, queryBody, planKeyCheck, planRead, planUnreadable, quoteQualified, RowLayout, STANDARD_SQL, type Dialect, type KeysetConfig } from './sql.js';
import type { ColumnTypes, KeyCheck, Position, ReadOptions, Source, Unreadable } from './types.js';

/** The part of every SQL source's configuration this base reads. */
export interface SqlSourceConfig extends KeysetConfig {
  table?: string | undefined;
  query?: string | undefined;
}

export abstract class SqlSource<Config extends SqlSourceConfig = SqlSourceConfig> implements Source {
  protected types?: Map<string, string>;
  /** Where the current read's key and cursor text sit: set by read(), or by a source that plans its own read. */
  protected layout = new RowLayout();
  /** Rows per page when the reader does not say. */
  protected readonly defaultPageSize: number = 5000;

  /** `known`: column types described already (by another thread), so the source is not asked again. */
  constructor(protected readonly config: Config, known?: ColumnTypes, protected readonly dialect: Dialect = STANDARD_SQL) {
    if (known) this.types = new Map(known);
  }

  /** Column names and SQL types of `SELECT * FROM relation`, in order. */
  protected abstract describe(): Promise<Map<string, string>>;
  /** Runs one query (its parameters in `dialect.param` order), its rows as arrays, page by page. */
  protected abstract query(sql: string, values: readonly string[], pageSize: number): AsyncIterable<Row[]>;
  /** Runs one query, its first row by column name (empty when none). */
  protected abstract one(sql: string, values?: readonly string[]): Promise<Record<string, unknown>>;
  abstract close(): Promise<void>;

  /** The table (quoted) or the sync's query as a subquery, to select from `AS pinsync_source`. */
  protected relation(): string {
    return this.config.table !== undefined
      ? quoteQualified(this.config.table)
      // The newline keeps a trailing -- comment from swallowing the closing parenthesis.
      : `(${queryBody(this.config.query!)}\n)`;
  }

  async columnTypes(): Promise<Map<string, string>> {
    this.types ??= await this.describe();
    return this.types;
  }

  async columns(): Promise<string[]> {
    return [...(await this.columnTypes()).keys()];
  }

  async *read(options: ReadOptions = {}): AsyncIterable<Row[]> {
    const types = await this.columnTypes();
    const plan = planRead(this.config, types, options.columns ?? [...types.keys()], options.after, this.dialect, options.until, options.withNullKeys);
    this.layout = plan.layout;
    yield* this.query(`SELECT ${plan.select} FROM ${this.relation()} AS ${ALIAS} WHERE ${plan.where} ORDER BY ${plan.orderBy}`,
      plan.values, options.pageSize ?? this.defaultPageSize);
  }

  async unreadableRows(until?: string, after?: Position): Promise<Unreadable> {
    const types = await this.columnTypes();
    const plan = planUnreadable(this.config, types, this.relation(), until, this.dialect, countsMissing(this.config, after));
    if (!plan) return { missing: 0, future: 0 };
    const row = await this.one(plan.sql, plan.values);
    return { missing: Number(row.missing ?? 0), future: Number(row.future ?? 0) };
  }

  async checkKey(limit: number): Promise<KeyCheck> {
    const row = await this.one(planKeyCheck(this.config, this.relation(), limit, this.dialect));
    return { checked: Number(row.checked ?? 0), distinctKeys: Number(row.distinct_keys ?? 0), most: Number(row.most ?? 0) };
  }

  positionOf(row: Row): Position {
    return this.layout.positionOf(row);
  }
}
