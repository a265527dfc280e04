// Errors cross between threads as plain data (structured clone keeps only Error's own fields);
// pinsync's classes are rebuilt on the other side, so the exit code and message stay theirs.
import type { Problem } from '../core/types.js';
import {
  AuthError, ConfigError, LockedError, PinsyncError, RefusedQueryError, RetriesExhaustedError, SourceError, StateError, UsageError,
} from '../core/errors.js';

/** An error as it crosses a thread boundary. */
export interface ThreadError {
  name: string;
  message: string;
  /** A ConfigError's problems. */
  problems?: Problem[];
}

type MessageOnly = new (message: string) => PinsyncError;
const BY_NAME: Record<string, MessageOnly> = {
  UsageError, SourceError, RefusedQueryError, AuthError, RetriesExhaustedError, StateError, LockedError,
};

export function toThreadError(error: unknown): ThreadError {
  if (error instanceof ConfigError) return { name: error.name, message: error.message, problems: error.problems };
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

export function fromThreadError(error: ThreadError): Error {
  if (error.name === 'ConfigError') return new ConfigError(error.problems ?? [], error.message);
  const PinsyncClass = BY_NAME[error.name];
  if (PinsyncClass) return new PinsyncClass(error.message);
  // Anything else is not pinsync's to classify: an internal error, under its own name.
  const plain = new Error(error.message);
  if (error.name !== 'Error') plain.name = error.name;
  return plain;
}
