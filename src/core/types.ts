// Types every layer shares: a source row, a reading position, a sync-file problem, exit codes.

/** One source row: values in the order of the mapper's `columns` (arrays index faster than keyed objects). */
export type Row = readonly unknown[];

/** Where reading resumes: strictly after this (cursor, primary key) pair. */
export interface Position {
  /** Cursor value as exact text (full timestamp precision); null when the sync has no cursor. */
  cursor: string | null;
  /** Primary key value as text; null means after every row at this cursor value (`reset --to`). */
  key: string | null;
  /** With a null key: from this cursor value on, its own rows included (coarse cursors re-read their last value). */
  inclusive?: boolean;
}

/** A problem in a sync file, placed at its line and column. */
export interface Problem {
  file: string;
  line: number;
  col: number;
  /** Dotted key path in the file, e.g. `source.cursor`; empty for the whole file. */
  path: string;
  message: string;
}

/** The CLI's exit codes, as the README's "Exit codes" table lists them. */
export const ExitCode = {
  /** Success (an interrupted run that settled its batches too). */
  success: 0,
  /** The run failed: the source, Pinterest, the state store, or a bug in pinsync. */
  failed: 1,
  /** An invalid sync file or usage. */
  invalid: 2,
  /** The run finished, but rejected more rows than options.max_reject_rate allows. */
  rejectsExceeded: 3,
  /** Another run holds the sync's lock; this one did nothing. */
  locked: 4,
  /** A second SIGINT or SIGTERM quit at once: the shell's 128 + the signal's number. */
  sigint: 130,
  sigterm: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
