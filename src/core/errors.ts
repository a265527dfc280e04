// Error classes, each with the exit code the CLI returns for it (DESIGN.md section 4).
import { ExitCode, type Problem } from './types.js';

export abstract class PinsyncError extends Error {
  abstract readonly exitCode: ExitCode;
}

/** Invalid sync files or usage: exit 2. Problems are listed together. */
export class ConfigError extends PinsyncError {
  readonly exitCode = ExitCode.invalid;
  constructor(readonly problems: Problem[], message = `${problems.length} problem${problems.length === 1 ? '' : 's'} in sync files`) {
    super(message);
    this.name = 'ConfigError';
  }
}

export class UsageError extends PinsyncError {
  readonly exitCode = ExitCode.invalid;
  override name = 'UsageError';
}

/** A source failed (connection, SQL, missing table or file): exit 1. */
export class SourceError extends PinsyncError {
  readonly exitCode = ExitCode.failed;
  override name = 'SourceError';
}

/**
 * A source query pinsync will not run: not exactly one statement that only reads (several
 * statements, a write, a COPY). A problem in the sync file (exit 2); prepare.ts places it at source.query.
 */
export class RefusedQueryError extends PinsyncError {
  readonly exitCode = ExitCode.invalid;
  override name = 'RefusedQueryError';
}

/** Pinterest refused the token (401) or the ad account (403): the run stops at once, exit 1. */
export class AuthError extends PinsyncError {
  readonly exitCode = ExitCode.failed;
  override name = 'AuthError';
}

/** Pinterest kept answering 429/5xx (or the network failed) past the retry budget: exit 1. */
export class RetriesExhaustedError extends PinsyncError {
  readonly exitCode = ExitCode.failed;
  override name = 'RetriesExhaustedError';
}

/** The state store could not be opened or written: exit 1. */
export class StateError extends PinsyncError {
  readonly exitCode = ExitCode.failed;
  override name = 'StateError';
}

/** Another run holds this sync's lock: this one did nothing, exit 4. */
export class LockedError extends PinsyncError {
  readonly exitCode = ExitCode.locked;
  override name = 'LockedError';
}

/** Pinterest refused a request in a way retrying cannot fix (400, 404, 409, …): exit 1. */
export class PinterestRefusedError extends PinsyncError {
  readonly exitCode = ExitCode.failed;
  override name = 'PinterestRefusedError';
}

/** An audience run would remove more of the list than options.max_removal_rate allows: it sent nothing, exit 3. */
export class RemovalGuardError extends PinsyncError {
  readonly exitCode = ExitCode.rejectsExceeded;
  override name = 'RemovalGuardError';
}
