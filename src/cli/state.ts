import { StateError } from '../errors.js';
import type { Position } from '../sources/types.js';
import { StateStore } from '../state/store.js';

export const DEFAULT_STATE = '.pinsync/state.db';

const stateUrl = (option?: string) => option ?? process.env.PINSYNC_STATE ?? DEFAULT_STATE;

function stateError(url: string, error: unknown): StateError {
  // The URL may hold a password: name only its kind.
  const where = /^postgres/.test(url) ? 'the PostgreSQL state database' : url;
  return new StateError(`cannot open the state store at ${where}: ${(error as Error).message.split('\n')[0]}`);
}

/** The state store: --state, else PINSYNC_STATE, else a SQLite file in the working directory. */
export async function openState(option?: string): Promise<StateStore> {
  const url = stateUrl(option);
  try {
    return await StateStore.open(url);
  } catch (error) {
    throw stateError(url, error);
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
    throw stateError(url, error);
  }
}
