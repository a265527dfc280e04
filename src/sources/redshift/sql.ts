// What the Redshift source writes into its SQL itself, without asking the server: column type
// names from a RowDescription, and checkpoint values as literals (docs/adr/0012-redshift-source.md).
import { STANDARD_SQL, type Dialect } from '../sql.js';

/** Type names by type OID, as Redshift's SQL reference spells them (OIDs from Redshift's drivers). */
const NAMES = new Map<number, string>([
  [16, 'boolean'], [20, 'bigint'], [21, 'smallint'], [23, 'integer'], [25, 'text'], [700, 'real'], [701, 'double precision'],
  [1082, 'date'], [1083, 'time'], [1114, 'timestamp'], [1184, 'timestamptz'], [1266, 'timetz'],
  [1186, 'interval'], [1188, 'interval year to month'], [1190, 'interval day to second'],
  [3000, 'geometry'], [3001, 'geography'], [4000, 'super'], [6551, 'varbyte'],
  [18, '"char"'], [19, 'name'], [26, 'oid'],
  // PostgreSQL's json, which Redshift never sends: the tests' stand-in for SUPER (JSON text on the wire too).
  [114, 'json'],
]);

export const SUPER_OID = 4000;

/**
 * The type name of a result column from its OID and type modifier (RowDescription), for casting
 * checkpoint values: format_type() is PostgreSQL's, not Redshift's.
 */
export function typeName(oid: number, modifier: number): string {
  const length = modifier - 4;
  switch (oid) {
    case 1700: return modifier >= 4 ? `numeric(${(length >> 16) & 0xffff},${length & 0xffff})` : 'numeric';
    case 1043: return modifier >= 4 ? `varchar(${length})` : 'varchar';
    case 1042: return modifier >= 4 ? `char(${length})` : 'char';
    default: return NAMES.get(oid) ?? `unknown type ${oid}`;
  }
}

/**
 * A text value as a SQL string literal that means the same to Redshift (backslashes escape in
 * its literals) and to PostgreSQL (they do not): quotes doubled, each backslash written as CHR(92).
 */
export function literal(value: string): string {
  if (value.includes('\0')) throw new RangeError('a checkpoint value holds a NUL character');
  const parts = value.split('\\').map((part) => `'${part.replace(/'/g, "''")}'`);
  return parts.length === 1 ? parts[0]! : `(${parts.join(' || CHR(92) || ')})`;
}

/** Redshift's dialect: no row-value comparison, and key or cursor text up to VARCHAR's largest size (a bare VARCHAR is 256). */
export const REDSHIFT_SQL: Dialect = { ...STANDARD_SQL, text: 'VARCHAR(65535)', rowComparison: false };

/** The dialect with each parameter replaced by its value as a literal (DECLARE gets no bound parameters). */
export function inlined(dialect: Dialect, values: readonly string[]): Dialect {
  return { ...dialect, param: (n) => literal(values[n - 1]!) };
}
