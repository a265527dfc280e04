// Snowflake upper-cases unquoted names: a sync file that writes `email` means the column EMAIL.
// The rule (docs/adr/0013-snowflake-source.md): a name Snowflake stores all in upper case is
// shown to the sync file in lower case; any other name (created quoted) is shown as it is.
import { quoteIdentifier } from '../sql.js';
import { SourceError } from '../types.js';

const isUpper = (name: string) => name === name.toUpperCase();
const isLower = (name: string) => name === name.toLowerCase();

/** The name the sync file uses for a Snowflake column. */
export function exposedName(snowflakeName: string): string {
  return isUpper(snowflakeName) ? snowflakeName.toLowerCase() : snowflakeName;
}

/**
 * Each column's exposed name and its Snowflake name, in order. Two columns that would read as one
 * name (EMAIL and "email") are refused: one of them would otherwise vanish without a word.
 */
export function exposedColumns(snowflakeNames: readonly string[]): Map<string, string> {
  const columns = new Map<string, string>();
  for (const name of snowflakeNames) {
    const exposed = exposedName(name);
    const earlier = columns.get(exposed);
    if (earlier !== undefined) {
      throw new SourceError(`the Snowflake columns ${quoteIdentifier(earlier)} and ${quoteIdentifier(name)} both read as '${exposed}' in the sync file: select them under different names in source.query (e.g. ${quoteIdentifier(name)} AS ${exposed}_2)`);
    }
    columns.set(exposed, name);
  }
  return columns;
}

/**
 * The Snowflake name behind a name the sync file wrote: the described columns' own names when
 * known, otherwise a name in one case (a normal, unquoted name) in upper case, a mixed-case one as it is.
 */
export function snowflakeName(name: string, described?: ReadonlyMap<string, string>): string {
  const known = described?.get(name);
  if (known !== undefined) return known;
  return isLower(name) || isUpper(name) ? name.toUpperCase() : name;
}

/**
 * A table name from the sync file, each part quoted: a part in one case is a normal Snowflake name
 * (its upper-case object), a part in mixed case a quoted name used exactly (`analytics.Orders`
 * is ANALYTICS."Orders").
 */
export function quoteTable(table: string): string {
  return table.split('.').map((part) => quoteIdentifier(snowflakeName(part))).join('.');
}
