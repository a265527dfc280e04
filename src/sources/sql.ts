import type { Row } from '../mapping/compile.js';
import { redactQuoted } from '../redact.js';
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
  /** WHERE clause (never empty) with `$n` parameters. */
  where: string;
  values: string[];
  orderBy: string;
  layout: RowLayout;
}

export interface KeysetConfig {
  primary_key: string;
  cursor?: string | undefined;
}

/** Columns are referred to through this alias in every query a SQL source runs. */
export const ALIAS = 'pinsync_source';
const column = (name: string) => `${ALIAS}.${quoteIdentifier(name)}`;

/**
 * The keyset read both SQL sources run: (cursor, primary key) order, strictly after the
 * checkpoint compared in the columns' own types, rows with a null cursor or key left out
 * (they cannot be placed against a checkpoint; see unreadableFilter).
 */
export function planRead(config: KeysetConfig, types: ReadonlyMap<string, string>, columns: readonly string[], after?: Position): ReadPlan {
  const keyType = types.get(config.primary_key);
  if (keyType === undefined) throw new SourceError(`primary key column '${config.primary_key}' is not in the source`);
  const cursorType = config.cursor === undefined ? undefined : types.get(config.cursor);
  if (config.cursor !== undefined && cursorType === undefined) throw new SourceError(`cursor column '${config.cursor}' is not in the source`);
  const key = column(config.primary_key);
  const cursor = config.cursor === undefined ? undefined : column(config.cursor);
  const select = [...columns.map(column), `CAST(${key} AS VARCHAR)`];
  if (cursor) select.push(`CAST(${cursor} AS VARCHAR)`);

  const filters = [`${key} IS NOT NULL`];
  const values: string[] = [];
  if (cursor) {
    filters.push(`${cursor} IS NOT NULL`);
    if (after?.cursor != null && after.key !== null) {
      filters.push(`(${cursor}, ${key}) > (CAST($1 AS ${cursorType}), CAST($2 AS ${keyType}))`);
      values.push(after.cursor, after.key);
    } else if (after?.cursor != null) {
      // `reset --to`: after every row at this cursor value.
      filters.push(`${cursor} > CAST($1 AS ${cursorType})`);
      values.push(after.cursor);
    }
  } else if (after?.key != null) {
    filters.push(`${key} > CAST($1 AS ${keyType})`);
    values.push(after.key);
  }
  return {
    select: select.join(', '),
    where: filters.join(' AND '),
    values,
    orderBy: cursor ? `${cursor}, ${key}` : key,
    layout: new RowLayout(columns.length, cursor ? columns.length + 1 : -1),
  };
}

/** Rows a read leaves out: those whose primary key or cursor is null. */
export function unreadableFilter(config: KeysetConfig): string {
  return [config.primary_key, config.cursor].filter((c): c is string => c !== undefined).map((c) => `${column(c)} IS NULL`).join(' OR ');
}
