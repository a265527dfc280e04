import { loadSyncFile } from '../../config/load.js';
import type { SyncDefinition } from '../../config/schema.js';
import { cursorMs, forgetRowsAfter } from '../../engine/ledger.js';
import { locateRefusal, openSync } from '../../engine/prepare.js';
import { ConfigError, UsageError } from '../../core/errors.js';
import { cursorKind, cursorTextAt } from '../../sources/cursor.js';
import { createSource } from '../../sources/index.js';
import type { Position } from '../../sources/types.js';
import { resolveSyncFile } from '../resolve.js';
import { openState } from '../state.js';
import { lockTtlFromEnv } from '../execute.js';
import { ExitCode } from '../../core/types.js';

export interface ResetOptions {
  syncsDir: string;
  state?: string;
  to?: string;
}

const INTEGER_TEXT = /^-?\d+$/;

const signed = (bits: number): [bigint, bigint] => [-(1n << BigInt(bits - 1)), (1n << BigInt(bits - 1)) - 1n];
const unsigned = (bits: number): [bigint, bigint] => [0n, (1n << BigInt(bits)) - 1n];
const INTEGER_RANGES: Record<string, [bigint, bigint]> = {
  tinyint: signed(8), int1: signed(8), smallint: signed(16), int2: signed(16), integer: signed(32), int: signed(32), int4: signed(32),
  bigint: signed(64), int8: signed(64), int64: signed(64), hugeint: signed(128), int128: signed(128),
  utinyint: unsigned(8), usmallint: unsigned(16), uinteger: unsigned(32), ubigint: unsigned(64), uhugeint: unsigned(128),
};

/** Whether an integer column of this SQL type can hold the value (a type not listed: any integer). */
function fitsInteger(value: string, type: string): boolean {
  const t = type.trim().toLowerCase();
  const digits = /^(?:numeric|decimal)\((\d+),\s*0\)$/.exec(t)?.[1];
  const max = digits !== undefined ? 10n ** BigInt(digits) - 1n : undefined;
  const [low, high] = max !== undefined ? [-max, max] : INTEGER_RANGES[t] ?? [undefined, undefined];
  const n = BigInt(value);
  return (low === undefined || n >= low) && (high === undefined || n <= high);
}

/** Whether the text's leading YYYY-MM-DD is a real day: JavaScript takes 2026-02-30 as 2026-03-02, a warehouse refuses it. */
function realDay(value: string): boolean {
  const m = /^\s*(\d{4})-(\d{2})-(\d{2})/.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // setUTCFullYear, not Date.UTC: that one reads years 0-99 as 1900-1999.
  const day = new Date(0);
  day.setUTCFullYear(y, mo - 1, d);
  return day.getUTCFullYear() === y && day.getUTCMonth() === mo - 1 && day.getUTCDate() === d;
}

/** Why `value` cannot be compared with the column of this SQL type; undefined when it can. */
function mismatch(value: string, column: string, type: string): string | undefined {
  const kind = cursorKind(type);
  const wrong = (example: string) => `--to '${value}' is not a value of ${column} (${type}); give one such as ${example}`;
  if (kind === 'integer') return INTEGER_TEXT.test(value) && fitsInteger(value, type) ? undefined : wrong('12345');
  if (kind === 'date') return /^\d{4}-\d{2}-\d{2}$/.test(value) && cursorMs({ cursor: value }) !== null && realDay(value) ? undefined : wrong('2026-11-30');
  if (kind === 'timestamp') return cursorMs({ cursor: value }) !== null && realDay(value) ? undefined : wrong("'2026-11-30 18:00:00' (UTC unless it names a zone)");
  return undefined;
}

const ZONED = /^(.*\d{2}:\d{2}(?::\d{2})?)(\.\d+)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$/i;

/**
 * A time that names its zone, as UTC text: a warehouse ignores the zone when it casts to a
 * timestamp without time zone, which pinsync reads as UTC. Digits below the second are kept.
 */
function inUtc(value: string): string {
  const m = ZONED.exec(value.trim());
  if (!m) return value;
  const ms = cursorMs({ cursor: value.trim().replace(m[2] ?? '', '') });
  return ms === null ? value : `${cursorTextAt(ms, 'timestamp').slice(0, 19)}${m[2] ?? ''}`;
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
    return sync.source.cursor ? { cursor: cursorKind(type) === 'timestamp' ? inUtc(value) : value, key: null } : { cursor: null, key: value };
  } finally {
    await source.close();
  }
}

/** Clears a sync's checkpoint, or moves it so the next run reads rows after `--to`. */
export async function resetCommand(syncArg: string, options: ResetOptions): Promise<ExitCode> {
  const file = resolveSyncFile(syncArg, options.syncsDir);
  // Without its sync file the cursor is unknown, and a checkpoint saved without it would resend everything.
  const loaded = await loadSyncFile(file, { requireDestination: false });
  if (!loaded.sync) throw new ConfigError(loaded.problems);
  const sync = loaded.sync;
  if (sync.kind === 'audience') return resetAudience(sync, options);
  const position = options.to === undefined ? null : await positionFor(sync, options.to).catch((error: unknown) => {
    throw locateRefusal(error, loaded);
  });
  const store = await openState(options.state);
  try {
    // Holding the lock: a run in progress would overwrite the reset with its next checkpoint.
    const lock = await store.lock(sync.name, { ttlMs: lockTtlFromEnv() });
    try {
      // The ledger first: if reading the source fails, the checkpoint has not moved.
      if (position && sync.source.cursor === undefined) {
        // Without a cursor later runs read every row again: the ledger keeps those at or before the value.
        const { source, mapper } = await openSync(file, { requireDestination: false });
        try {
          await forgetRowsAfter(sync, store, source, mapper, position);
        } finally {
          await source.close();
        }
      } else {
        // Rows after the new checkpoint are sent again, so the ledger forgets them; rows at or
        // before it are never re-read, even by lookback (the ledger starts there).
        await store.clearLedger(sync.name);
      }
      await store.saveCheckpoint(sync.name, position);
      await store.saveUnsettled(sync.name, 0);
      await store.saveLedgerSince(sync.name, position?.cursor != null ? position : null);
    } finally {
      await lock.release();
    }
    process.stdout.write(position
      ? `${sync.name}: the next run sends every row whose ${sync.source.cursor ? `${sync.source.cursor}` : `primary key ${sync.source.primary_key}`} is after ${options.to}, and none at or before it\n`
      : `${sync.name}: checkpoint and ledger cleared; the next run reads and sends every row\n`);
    return ExitCode.success;
  } finally {
    await store.close();
  }
}

/**
 * Forgets an audience sync's membership and list: Pinterest cannot list a customer list's
 * members, so the next run adds every member of the query again and removes none.
 */
async function resetAudience(sync: SyncDefinition, options: ResetOptions): Promise<ExitCode> {
  if (options.to !== undefined) throw new UsageError(`${sync.name} is an audience sync: it has no checkpoint to move (--to); \`pinsync reset ${sync.name}\` forgets its membership`);
  const store = await openState(options.state);
  try {
    const lock = await store.lock(sync.name, { ttlMs: lockTtlFromEnv() });
    let list;
    let forgotten: number;
    try {
      list = await store.audienceList(sync.name);
      forgotten = await store.clearMembers(sync.name);
      await store.clearAudienceList(sync.name);
    } finally {
      await lock.release();
    }
    const which = list ? `customer list ${list.listId} '${list.listName}'` : 'its customer list';
    process.stdout.write(`${sync.name}: forgot ${forgotten} members of ${which}; the next run adds every member of the query again and removes none (members pinsync sent before stay on the list until removed in Ads Manager)\n`);
    return ExitCode.success;
  } finally {
    await store.close();
  }
}
