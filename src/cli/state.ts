import { StateError } from '../errors.js';
import { StateStore } from '../state/store.js';

export const DEFAULT_STATE = '.pinsync/state.db';

/** The state store: --state, else PINSYNC_STATE, else a SQLite file in the working directory. */
export async function openState(option?: string): Promise<StateStore> {
  const url = option ?? process.env.PINSYNC_STATE ?? DEFAULT_STATE;
  try {
    return await StateStore.open(url);
  } catch (error) {
    // The URL may hold a password: name only its kind.
    const where = /^postgres/.test(url) ? 'the PostgreSQL state database' : url;
    throw new StateError(`cannot open the state store at ${where}: ${(error as Error).message.split('\n')[0]}`);
  }
}
