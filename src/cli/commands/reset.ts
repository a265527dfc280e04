import { loadSyncFile } from '../../config/load.js';
import { resolveSyncFile } from '../resolve.js';
import { openState } from '../state.js';
import { lockTtlFromEnv } from '../execute.js';

export interface ResetOptions {
  syncsDir: string;
  state?: string;
  to?: string;
}

/** Clears a sync's checkpoint, or moves it so the next run reads rows after `--to`. */
export async function resetCommand(syncArg: string, options: ResetOptions): Promise<number> {
  const file = resolveSyncFile(syncArg, options.syncsDir);
  const loaded = await loadSyncFile(file, { requireDestination: false });
  const hasCursor = loaded.sync?.source.cursor !== undefined;
  const store = await openState(options.state);
  try {
    // Holding the lock: a run in progress would overwrite the reset with its next checkpoint.
    const lock = await store.lock(loaded.name, { ttlMs: lockTtlFromEnv() });
    const position = options.to === undefined ? null : hasCursor ? { cursor: options.to, key: null } : { cursor: null, key: options.to };
    try {
      await store.saveCheckpoint(loaded.name, position);
      await store.saveUnsettled(loaded.name, 0);
      // Starting over means sending again: the ledger of what was delivered goes too.
      await store.clearLedger(loaded.name);
    } finally {
      await lock.release();
    }
    process.stdout.write(position
      ? `${loaded.name}: the next run reads rows whose ${hasCursor ? 'cursor' : 'primary key'} is after ${options.to}\n`
      : `${loaded.name}: checkpoint and ledger cleared; the next run reads and sends every row\n`);
    return 0;
  } finally {
    await store.close();
  }
}
