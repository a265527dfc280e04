import { PinsyncError, StateError, UsageError } from '../core/errors.js';
import { describeState, describeStateFailure, StateStore } from '../state/store.js';

export const DEFAULT_STATE = '.pinsync/state.db';

const stateUrl = (option?: string) => option ?? process.env.PINSYNC_STATE ?? DEFAULT_STATE;

function stateError(url: string, error: unknown): StateError {
  return new StateError(`cannot open the state store at ${describeState(url)}: ${describeStateFailure(error)}`);
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
