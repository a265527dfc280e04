// The rules a sync's cursor column must follow before anything is read, and the bound that
// keeps rows stamped in the future out of a run.
import type { SyncDefinition } from '../config/schema.js';
import { cursorKind, cursorTextAt, type CursorKind } from '../sources/cursor.js';

/** Rows whose cursor is up to this far past the run's start are read: clocks disagree a little. */
const CLOCK_SKEW_MS = 60_000;

export interface CursorProblem {
  path: (string | number)[];
  message: string;
}

/** The cursor's kind, or the problems that make the sync unsafe to run (reported as config errors). */
export function checkCursor(sync: Pick<SyncDefinition, 'source'>, types: ReadonlyMap<string, string>): { kind?: CursorKind; problems: CursorProblem[] } {
  const column = sync.source.cursor;
  if (column === undefined) return { problems: [] };
  const type = types.get(column);
  // A missing column is the mapper's problem to report.
  if (type === undefined) return { problems: [] };
  const kind = cursorKind(type);
  if (!kind) {
    return {
      problems: [{
        path: ['source', 'cursor'],
        message: `cursor column '${column}' is ${type}; a cursor must be a timestamp, a date or an integer, since rows are read in its order `
          + `(text compares letter by letter). Use a timestamp column, or cast it in a query: query: SELECT *, CAST(${column} AS timestamp) AS ${column}_at FROM …`,
      }],
    };
  }
  if (kind === 'integer' && sync.source.lookback !== undefined) {
    return {
      kind,
      problems: [{
        path: ['source', 'lookback'],
        message: `lookback is a time window, and cursor column '${column}' is ${type}: remove lookback, or use a timestamp cursor (e.g. updated_at)`,
      }],
    };
  }
  return { kind, problems: [] };
}

/** The latest cursor value a run that started at `startedAtMs` reads; none for integer cursors. */
export function readUntil(kind: CursorKind | undefined, startedAtMs: number): string | undefined {
  return kind === 'timestamp' || kind === 'date' ? cursorTextAt(startedAtMs + CLOCK_SKEW_MS, kind) : undefined;
}
