// What kind of value a cursor column holds, from its SQL type as the source describes it.
// Only kinds that order the way time or a sequence does can be checkpointed safely.

export type CursorKind = 'timestamp' | 'date' | 'integer';

const TIMESTAMP = /^(timestamp|datetime)/i;
const DATE = /^date$/i;
const INTEGER = /^(u?(tiny|small|big|huge)?int(eger)?\d*|int\d+|(small|big)?serial|(numeric|decimal|number)\(\d+,\s*0\))$/i;

/** The cursor kind of a column type (PostgreSQL, DuckDB, BigQuery or Snowflake spelling); undefined when unusable. */
export function cursorKind(sqlType: string): CursorKind | undefined {
  const type = sqlType.trim();
  if (TIMESTAMP.test(type)) return 'timestamp';
  if (DATE.test(type)) return 'date';
  if (INTEGER.test(type)) return 'integer';
  return undefined;
}

/** A time as cursor text that every SQL source casts to its column's type, in UTC. */
export function cursorTextAt(ms: number, kind: CursorKind): string {
  const iso = new Date(ms).toISOString();
  return kind === 'date' ? iso.slice(0, 10) : iso.replace('T', ' ').replace('Z', '');
}
