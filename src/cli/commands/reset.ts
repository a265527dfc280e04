import { loadSyncFile } from '../../config/load.js';
import type { SyncDefinition } from '../../config/schema.js';
import { cursorMs } from '../../engine/ledger.js';
import { locateRefusal } from '../../engine/prepare.js';
import { ConfigError, UsageError } from '../../errors.js';
import { cursorKind } from '../../sources/cursor.js';
import { createSource } from '../../sources/index.js';
import type { Position } from '../../sources/types.js';
import { resolveSyncFile } from '../resolve.js';
import { openState } from '../state.js';
import { lockTtlFromEnv } from '../execute.js';

export interface ResetOptions {
  syncsDir: string;
  state?: string;
  to?: string;
}

const INTEGER_TEXT = /^-?\d+$/;

/** Why `value` cannot be compared with the column of this SQL type; undefined when it can. */
function mismatch(value: string, column: string, type: string): string | undefined {
  const kind = cursorKind(type);
  const wrong = (example: string) => `--to '${value}' is not a value of ${column} (${type}); give one such as ${example}`;
  if (kind === 'integer') return INTEGER_TEXT.test(value) ? undefined : wrong('12345');
  if (kind === 'date') return /^\d{4}-\d{2}-\d{2}$/.test(value) && cursorMs({ cursor: value }) !== null ? undefined : wrong('2026-11-30');
  if (kind === 'timestamp') return cursorMs({ cursor: value }) !== null ? undefined : wrong("'2026-11-30 18:00:00' (UTC unless it names a zone)");
  return undefined;
}

/** The position `--to` stands for, checked against the column's type before anything is written. */
async function positionFor(sync: SyncDefinition, value: string): Promise<Position> {
  const source = await createSource(sync);
  try {
    const types = await source.columnTypes();
    const column = sync.source.cursor ?? sync.source.primary_key;
    const type = types.get(column);
    if (type === undefined) throw new UsageError(`${sync.file}: ${sync.source.cursor ? 'cursor' : 'primary key'} column '${column}' is not in the source`);
    const problem = mismatch(value, column, type);
    if (problem) throw new UsageError(problem);
    return sync.source.cursor ? { cursor: value, key: null } : { cursor: null, key: value };
  } finally {
    await source.close();
  }
}

/** Clears a sync's checkpoint, or moves it so the next run reads rows after `--to`. */
export async function resetCommand(syncArg: string, options: ResetOptions): Promise<number> {
  const file = resolveSyncFile(syncArg, options.syncsDir);
  // Without its sync file the cursor is unknown, and a checkpoint saved without it would resend everything.
  const loaded = await loadSyncFile(file, { requireDestination: false });
  if (!loaded.sync) throw new ConfigError(loaded.problems);
  const sync = loaded.sync;
  const position = options.to === undefined ? null : await positionFor(sync, options.to).catch((error: unknown) => {
    throw locateRefusal(error, loaded);
  });
  const store = await openState(options.state);
  try {
    // Holding the lock: a run in progress would overwrite the reset with its next checkpoint.
    const lock = await store.lock(sync.name, { ttlMs: lockTtlFromEnv() });
    try {
      await store.saveCheckpoint(sync.name, position);
      await store.saveUnsettled(sync.name, 0);
      // Rows after the new checkpoint are sent again, so the ledger forgets them; rows at or
      // before it are never re-read, even by lookback (the ledger starts there).
      await store.clearLedger(sync.name);
      await store.saveLedgerSince(sync.name, position?.cursor != null ? position : null);
    } finally {
      await lock.release();
    }
    process.stdout.write(position
      ? `${sync.name}: the next run sends every row whose ${sync.source.cursor ? `${sync.source.cursor}` : `primary key ${sync.source.primary_key}`} is after ${options.to}, and none at or before it\n`
      : `${sync.name}: checkpoint and ledger cleared; the next run reads and sends every row\n`);
    return 0;
  } finally {
    await store.close();
  }
}
