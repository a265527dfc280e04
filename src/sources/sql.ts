import type { Row } from '../core/types.js';
import { redactQuoted } from '../core/redact.js';
import { SourceError, type Position } from './types.js';

// SQL text helpers shared by the SQL sources. Identifiers from sync files are always
// quoted, never pasted; values are always bound parameters.

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `schema.table` with each part quoted. */
export function quoteQualified(name: string): string {
  return name.split('.').map(quoteIdentifier).join('.');
}

/**
 * The sync's query without what may follow its one statement: semicolons, and line comments
 * after them (`SELECT … FROM t; -- done`, `…;;`), which would break the subquery it is wrapped in.
 * A comment holding a quote is left alone: it could be the inside of a string.
 */
export function queryBody(query: string): string {
  let body = query.trim();
  for (;;) {
    const next = body.replace(/;\s*$/, '').replace(/;\s*--[^'"\n]*$/, '').trimEnd();
    if (next === body) return body;
    body = next;
  }
}

/** A driver error's first line, with quoted values that could be personal data masked. */
export function firstLine(error: unknown): string {
  return redactQuoted((error instanceof Error ? error.message : String(error)).split('\n')[0]!);
}

/** Where a row's exact key and cursor text sit, so checkpoints can be taken from it. */
export class RowLayout {
  constructor(private readonly keyAt = 0, private readonly cursorAt = -1) {}

  positionOf(row: Row): Position {
    const cursor = this.cursorAt >= 0 ? row[this.cursorAt] : null;
    return { cursor: typeof cursor === 'string' ? cursor : null, key: String(row[this.keyAt]) };
  }
}

export interface ReadPlan {
  /** SELECT list: the requested columns, then the key and the cursor as exact text. */
  select: string;
  /** WHERE clause (never empty), with parameters named as the dialect names them. */
  where: string;
  /** Parameter values, in the order of `params` names. */
  values: string[];
  orderBy: string;
  layout: RowLayout;
}

export interface KeysetConfig {
  primary_key: string;
  cursor?: string | undefined;
}

/** What differs between the SQL dialects the sources speak. */
export interface Dialect {
  quote(name: string): string;
  /** The text type checkpoint values travel as. */
  text: string;
  /** The nth (1-based) parameter, e.g. $1 or @p1. */
  param(n: number): string;
  /** Whether (a, b) > (x, y) works: PostgreSQL serves it from an index on (cursor, key). */
  rowComparison: boolean;
  /** A 64-bit integer type, for counts. */
  integer: string;
  /** A checkpoint value (a parameter, cursor text) cast to its column's type; default CAST(value AS type). */
  cast?(value: string, type: string): string;
}

export const STANDARD_SQL: Dialect = { quote: quoteIdentifier, text: 'VARCHAR', param: (n) => `$${n}`, rowComparison: true, integer: 'BIGINT' };

function castParam(dialect: Dialect, n: number, type: string): string {
  return dialect.cast ? dialect.cast(dialect.param(n), type) : `CAST(${dialect.param(n)} AS ${type})`;
}

/** Columns are referred to through this alias in every query a SQL source runs. */
export const ALIAS = 'pinsync_source';

/**
 * The keyset read every SQL source runs: (cursor, primary key) order, strictly after the
 * checkpoint compared in the columns' own types, rows with a null cursor or key left out
 * (they cannot be placed against a checkpoint; see unreadableFilter).
 */
export function planRead(
  config: KeysetConfig, types: ReadonlyMap<string, string>, columns: readonly string[], after?: Position, dialect: Dialect = STANDARD_SQL, until?: string,
  withNullKeys = false,
): ReadPlan {
  const column = (name: string) => `${ALIAS}.${dialect.quote(name)}`;
  const keyType = types.get(config.primary_key);
  if (keyType === undefined) throw new SourceError(`primary key column '${config.primary_key}' is not in the source`);
  const cursorType = config.cursor === undefined ? undefined : types.get(config.cursor);
  if (config.cursor !== undefined && cursorType === undefined) throw new SourceError(`cursor column '${config.cursor}' is not in the source`);
  const key = column(config.primary_key);
  const cursor = config.cursor === undefined ? undefined : column(config.cursor);
  const select = [...columns.map(column), `CAST(${key} AS ${dialect.text})`];
  if (cursor) select.push(`CAST(${cursor} AS ${dialect.text})`);

  // A null key cannot be placed against a checkpoint; a read with none to place (an audience's) keeps the row.
  const filters = withNullKeys && config.cursor === undefined && after === undefined ? [] : [`${key} IS NOT NULL`];
  const values: string[] = [];
  const p = (n: number, type: string) => castParam(dialect, n, type);
  if (cursor) {
    filters.push(`${cursor} IS NOT NULL`);
    if (after?.cursor != null && after.key !== null) {
      filters.push(dialect.rowComparison
        ? `(${cursor}, ${key}) > (${p(1, cursorType!)}, ${p(2, keyType)})`
        : `(${cursor} > ${p(1, cursorType!)} OR (${cursor} = ${p(1, cursorType!)} AND ${key} > ${p(2, keyType)}))`);
      values.push(after.cursor, after.key);
    } else if (after?.cursor != null) {
      // `reset --to`: after every row at this cursor value; a coarse cursor's re-read: from it.
      filters.push(`${cursor} ${after.inclusive ? '>=' : '>'} ${p(1, cursorType!)}`);
      values.push(after.cursor);
    }
    if (until !== undefined) {
      // Rows stamped in the future (2099, 'infinity') wait for time to reach them.
      filters.push(`${cursor} <= ${p(values.length + 1, cursorType!)}`);
      values.push(until);
    }
  } else if (after?.key != null) {
    filters.push(`${key} > ${p(1, keyType)}`);
    values.push(after.key);
  }
  return {
    select: select.join(', '),
    where: filters.length > 0 ? filters.join(' AND ') : '1 = 1',
    values,
    orderBy: cursor ? `${cursor}, ${key}` : key,
    layout: new RowLayout(columns.length, cursor ? columns.length + 1 : -1),
  };
}

/**
 * Whether a read from `after` would count the rows with a null cursor or key. They are never
 * read, and no checkpoint bounds them: counting them scans the whole source
 * (docs/adr/0007-one-ordered-query.md). So only a
 * read that scans everything anyway counts them: one from the start, or one without a cursor.
 */
export function countsMissing(config: KeysetConfig, after?: Position): boolean {
  return config.cursor === undefined || after?.cursor == null;
}

/**
 * Counts the rows a read leaves out: (with `missing`) a null primary key or cursor, and (with
 * `until`) a cursor later than the bound, a range an index on the cursor serves as it serves the
 * read. One query over the source; its values are the dialect's parameters. Undefined: nothing to count.
 */
export function planUnreadable(
  config: KeysetConfig, types: ReadonlyMap<string, string>, relation: string, until?: string, dialect: Dialect = STANDARD_SQL, missing = true,
): { sql: string; values: string[] } | undefined {
  const nulls = missing
    ? [config.primary_key, config.cursor].filter((c): c is string => c !== undefined).map((c) => `${ALIAS}.${dialect.quote(c)} IS NULL`).join(' OR ')
    : undefined;
  const cursorType = config.cursor === undefined ? undefined : types.get(config.cursor);
  const future = until !== undefined && cursorType !== undefined
    ? `${ALIAS}.${dialect.quote(config.cursor!)} > ${castParam(dialect, 1, cursorType)}` : undefined;
  if (!nulls && !future) return undefined;
  const where = [nulls, future].filter(Boolean).join(' OR ');
  return {
    sql: `SELECT CAST(COALESCE(SUM(CASE WHEN ${nulls ?? 'FALSE'} THEN 1 ELSE 0 END), 0) AS ${dialect.integer}) AS missing, `
      + `CAST(COALESCE(SUM(CASE WHEN ${future ?? 'FALSE'} THEN 1 ELSE 0 END), 0) AS ${dialect.integer}) AS future `
      + `FROM ${relation} AS ${ALIAS} WHERE ${where}`,
    values: future ? [until!] : [],
  };
}

/**
 * How often the primary key repeats over at most `limit` rows (whichever the source returns
 * first: a bounded scan of one column, never the whole table).
 */
export function planKeyCheck(config: KeysetConfig, relation: string, limit: number, dialect: Dialect = STANDARD_SQL): string {
  const key = `${ALIAS}.${dialect.quote(config.primary_key)}`;
  return `SELECT CAST(COALESCE(SUM(n), 0) AS ${dialect.integer}) AS checked, CAST(COUNT(*) AS ${dialect.integer}) AS distinct_keys, `
    + `CAST(COALESCE(MAX(n), 0) AS ${dialect.integer}) AS most `
    + `FROM (SELECT k, COUNT(*) AS n FROM (SELECT ${key} AS k FROM ${relation} AS ${ALIAS} WHERE ${key} IS NOT NULL LIMIT ${Math.floor(limit)}) AS sampled GROUP BY k) AS counted`;
}
