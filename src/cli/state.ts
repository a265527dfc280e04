import { PinsyncError, StateError, UsageError } from '../errors.js';
import type { Position } from '../sources/types.js';
import { StateStore } from '../state/store.js';

export const DEFAULT_STATE = '.pinsync/state.db';

const stateUrl = (option?: string) => option ?? process.env.PINSYNC_STATE ?? DEFAULT_STATE;

/** Where the state is, for a message: a PostgreSQL URL without its password. */
export function describeState(url: string): string {
  if (!/^postgres(ql)?:\/\//i.test(url)) return url;
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.username ? `${decodeURIComponent(parsed.username)}@` : ''}${parsed.host}${parsed.pathname}`;
  } catch {
    return 'the PostgreSQL state database';
  }
}

/** What to do about the usual causes, after the driver's own words. */
function hint(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') {
    return ' (the file is damaged or is not a pinsync state: restore it from a copy, or move it aside to start over, which sends every row again)';
  }
  if (code === '42501') return ' (grant this role CREATE on the database, or create the schema for it and grant it USAGE and CREATE there and all rights on its tables)';
  return '';
}

function stateError(url: string, error: unknown): StateError {
  const cause = (error instanceof Error ? error.message : String(error)).split('\n')[0];
  return new StateError(`cannot open the state store at ${describeState(url)}: ${cause}${hint(error)}`);
}

function optionError(option: string | undefined, error: UsageError): UsageError {
  return new UsageError(`${option !== undefined ? '--state' : 'PINSYNC_STATE'}: ${error.message}`);
}

/** The state store: --state, else PINSYNC_STATE, else a SQLite file in the working directory. */
export async function openState(option?: string): Promise<StateStore> {
  const url = stateUrl(option);
  try {
    return await StateStore.open(url);
  } catch (error) {
    if (error instanceof UsageError) throw optionError(option, error);
    throw error instanceof PinsyncError ? error : stateError(url, error);
  }
}

/** Where a sync's next run would start, read without writing anything; undefined without state. */
export async function readCheckpoint(sync: string, option?: string): Promise<Position | undefined> {
  const store = await openStateReadOnly(option);
  try {
    return (await store?.checkpoint(sync))?.position;
  } finally {
    await store?.close();
  }
}

/** Existing state, opened for reading only (preview); undefined when there is none yet. */
export async function openStateReadOnly(option?: string): Promise<StateStore | undefined> {
  const url = stateUrl(option);
  try {
    return await StateStore.openReadOnly(url);
  } catch (error) {
    if (error instanceof UsageError) throw optionError(option, error);
    throw error instanceof PinsyncError ? error : stateError(url, error);
  }
}
