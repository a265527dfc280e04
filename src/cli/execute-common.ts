// What running one sync shares, events or audience: its options, result and exit code.
import { parseDuration } from '../config/duration.js';
import type { SyncDefinition } from '../config/schema.js';
import { rejectRate, type RunSummary } from '../engine/run.js';
import { PinsyncError } from '../core/errors.js';
import type { StateStore } from '../state/store.js';
import type { Reporter } from './report.js';
import { ExitCode } from '../core/types.js';

/** PINSYNC_LOCK_TTL (a duration such as 2m) tunes how long a lease lasts without renewal. */
export function lockTtlFromEnv(): number | undefined {
  const text = process.env.PINSYNC_LOCK_TTL;
  return text ? parseDuration(text) * 1000 : undefined;
}

/** The error's code if the run failed, rejectsExceeded if it rejected too much, else success. */
export function exitCodeOf(sync: SyncDefinition, summary: RunSummary): ExitCode {
  if (summary.error) return summary.error instanceof PinsyncError ? summary.error.exitCode : ExitCode.failed;
  if (summary.interrupted) return ExitCode.success;
  return rejectRate(summary) > sync.options.max_reject_rate ? ExitCode.rejectsExceeded : ExitCode.success;
}

const BEST_TO_WORST: readonly ExitCode[] = [ExitCode.success, ExitCode.rejectsExceeded, ExitCode.locked, ExitCode.invalid, ExitCode.failed];

/** The worse of two exit codes: failed, then invalid, locked, rejectsExceeded, success. */
export function worseExit(a: ExitCode, b: ExitCode): ExitCode {
  const rank = (code: ExitCode) => BEST_TO_WORST.indexOf(code);
  return rank(b) > rank(a) ? b : a;
}

export interface ExecuteOptions {
  store?: StateStore;
  reporter: Reporter;
  fullRefresh?: boolean;
  test?: boolean;
  /** A remote test's state, read and never written: where to start, and the ledger. */
  readState?: StateStore;
  signal?: AbortSignal;
  lockTtlMs?: number;
  /** An audience run may remove more than options.max_removal_rate of its list (run --allow-removals). */
  allowRemovals?: boolean;
}

export interface Executed {
  sync?: SyncDefinition;
  summary?: RunSummary;
  exitCode: ExitCode;
}
