// The ledger of settled rows, for syncs that read rows again: with `lookback` (each run
// re-reads a window before the checkpoint, for rows that land late), with a `date` cursor
// (each run re-reads the checkpoint's day, whose rows share one cursor value), and without a
// cursor (each run reads everything). A row the ledger holds is neither sent nor rejected again.
//
// The ledger is complete only from where it started keeping rows (`since`): turning lookback
// on, widening it, or `reset --to` never makes a run re-read rows the ledger cannot recognise.
import { createHash } from 'node:crypto';
import { parseDuration } from '../config/duration.js';
import type { SyncDefinition } from '../config/schema.js';
import { SourceError } from '../core/errors.js';
import { cursorTextAt, type CursorKind } from '../sources/cursor.js';
import type { Position, Source } from '../sources/types.js';
import type { Checkpoint, StateStore } from '../state/store.js';
import { encodeChecked } from '../mapping/encode.js';
import type { Mapper } from '../mapping/compile.js';

const TIMESTAMP_TEXT = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Cursor text as epoch milliseconds when it is a date or timestamp (UTC unless it says otherwise); null otherwise. */
export function cursorMs(position: Pick<Position, 'cursor'>): number | null {
  const m = position.cursor === null ? null : TIMESTAMP_TEXT.exec(position.cursor.trim());
  if (!m) return null;
  let zone = m[3] ?? 'Z';
  if (/^[+-]\d{2}$/.test(zone)) zone += ':00';
  else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const time = (m[2] ?? '00:00:00').replace(/(\.\d{3})\d+/, '$1');
  const ms = Date.parse(`${m[1]}T${time}${zone}`);
  return Number.isNaN(ms) ? null : ms;
}

export interface Ledger {
  /** Whether rows need ledger digests at all (most syncs keep no ledger). */
  readonly active: boolean;
  /** Whether settled rows go into the ledger. */
  readonly record: boolean;
  /** Where to start reading: the checkpoint, moved back by the window, never before `since`. */
  readonly start: Position | undefined;
  /**
   * The checkpoint to save after a batch: its last row, but never behind where the run
   * started (rows re-read inside the window must not move the checkpoint back).
   */
  checkpointAfter(last: Position, started: Position | undefined): Position;
  /**
   * The ledger key of a row: of its event when it maps to one (`eventId`), else of the row as
   * rejected or skipped, by primary key; undefined when the sync keeps no ledger.
   */
  rowDigest(eventId: string | null, primaryKey: string, position: Position): string | undefined;
  known(digests: (string | undefined)[]): Promise<Set<string>>;
  /** After a run: drops entries the window can no longer reach, and moves `since` with them. */
  finish(checkpoint: Position | null): Promise<void>;
}

const NONE: Omit<Ledger, 'start'> = {
  active: false,
  record: false,
  checkpointAfter: (last) => last,
  rowDigest: () => undefined,
  known: async () => new Set(),
  finish: async () => undefined,
};

export interface LedgerOptions {
  /** Consult the ledger; --full-refresh does not, so everything is sent again. */
  consult: boolean;
  /** Record settled rows (and keep `since`); a test-mode run or a preview does not. */
  record: boolean;
  cursorKind?: CursorKind;
  /** The sync's checkpoint, as the run found it; absent for a full refresh or a first run. */
  checkpoint?: Checkpoint;
}

/** The window re-read before the checkpoint, when the sync keeps a ledger for one. */
function windowOf(sync: SyncDefinition, kind: CursorKind | undefined): { ms: number; inclusive: boolean } | undefined {
  if (sync.source.cursor === undefined) return undefined;
  const lookbackMs = sync.source.lookback ? parseDuration(sync.source.lookback) * 1000 : undefined;
  // A date cursor is coarse: rows of the checkpoint's day can still land with a smaller key.
  if (kind === 'date') return { ms: lookbackMs ?? 0, inclusive: true };
  return lookbackMs === undefined ? undefined : { ms: lookbackMs, inclusive: false };
}

/** The later of two starts; a tie, or one that cannot be placed in time, goes to `since`, which never re-reads unknown rows. */
function later(desired: Position | undefined, since: Position | undefined): Position | undefined {
  if (!since) return desired;
  if (!desired) return since;
  const s = cursorMs(since);
  const d = cursorMs(desired);
  return s === null || d === null || s >= d ? since : desired;
}

// The earliest time every source can cast (PostgreSQL has no year 0): a window reaching before
// it (a checkpoint on 0001-01-01, .NET's DateTime.MinValue) starts there, its own rows included.
const EARLIEST_MS = Date.parse('0001-01-01T00:00:00Z');

function startAt(ms: number, kind: CursorKind, inclusive: boolean): Position {
  return ms <= EARLIEST_MS ? { cursor: cursorTextAt(EARLIEST_MS, kind), key: null, inclusive: true } : { cursor: cursorTextAt(ms, kind), key: null, inclusive };
}

const digestOf = (identity: string) => createHash('sha256').update(identity).digest('base64url').slice(0, 22);

export async function openLedger(sync: SyncDefinition, store: StateStore | undefined, options: LedgerOptions): Promise<Ledger> {
  const withCursor = sync.source.cursor !== undefined;
  const kind = options.cursorKind;
  const window = windowOf(sync, kind);
  const checkpoint = options.checkpoint?.position;
  const writable = store !== undefined && !store.readOnly && options.record;
  if (!store || (withCursor && !window)) {
    // Lookback was turned off: what the ledger holds will not be consulted again.
    if (writable && options.checkpoint?.ledgerSince) {
      await store.clearLedger(sync.name);
      await store.saveLedgerSince(sync.name, null);
    }
    return { ...NONE, start: checkpoint };
  }

  let since = options.checkpoint?.ledgerSince ?? undefined;
  if (window && !since && checkpoint) {
    // First run that keeps this ledger: it knows nothing before the checkpoint (or, for a
    // ledger kept before `since` existed, before its oldest entry).
    // A state that cannot tell starts the ledger at the checkpoint, as one with no entries does (the safe, narrower window).
    const oldest = await store.oldestLedgerEntry(sync.name).catch(() => null);
    since = oldest !== null && kind ? { cursor: cursorTextAt(oldest, kind), key: null, inclusive: true } : checkpoint;
    if (writable) await store.saveLedgerSince(sync.name, since);
  }

  let start: Position | undefined = checkpoint;
  if (!options.consult) {
    // --full-refresh: from the very start, and everything is sent again.
    start = undefined;
  } else if (window && checkpoint) {
    const ms = cursorMs(checkpoint);
    if (!kind) throw new SourceError(`source.lookback needs a timestamp or date cursor; ${sync.source.cursor} holds '${checkpoint.cursor}'`);
    // A checkpoint no time can place ('-infinity', a BC date) is before every window: read on after it.
    start = ms === null ? checkpoint
      : later(startAt(ms - window.ms, kind, window.inclusive), since);
  } else if (window) {
    start = since;
  }

  return {
    active: options.record || options.consult,
    record: options.record,
    start,
    checkpointAfter(last, started) {
      if (!window || !started) return last;
      const at = cursorMs(last);
      const from = cursorMs(started);
      // A start no time can place ('-infinity') was read after, never re-read: every row is past it.
      if (from === null) return last;
      // Equal to the millisecond counts as not past: microseconds are not compared here.
      return at !== null && at > from ? last : started;
    },
    rowDigest(eventId, primaryKey, position) {
      // With a cursor, a changed row (new cursor value) is a new delivery; without one, the event is.
      if (eventId !== null) return digestOf(withCursor ? `${eventId}\u0000${position.cursor}` : eventId);
      // A row with no event is settled under its key, apart from any event it may map to later.
      return digestOf(withCursor ? `\u0001${primaryKey}\u0000${position.cursor}` : `\u0001${primaryKey}`);
    },
    async known(digests) {
      const present = digests.filter((d): d is string => d !== undefined);
      if (present.length === 0 || !options.consult) return new Set();
      // Read-only state that never recorded a delivery has no ledger table yet.
      return store.delivered(sync.name, present).catch((error: Error) => {
        if (store.readOnly) return new Set<string>();
        throw error;
      });
    },
    async finish(position) {
      const ms = position ? cursorMs(position) : null;
      if (!writable || !window || ms === null || !kind) return;
      const threshold = ms - window.ms;
      await store.pruneLedger(sync.name, threshold);
      // The ledger now holds rows from the threshold on: runs may re-read that far back.
      const sinceMs = since ? cursorMs(since) : null;
      if (sinceMs === null || sinceMs < threshold) {
        since = startAt(threshold, kind, true);
        await store.saveLedgerSince(sync.name, since);
      }
    },
  };
}

/**
 * `reset --to` on a sync without a cursor: every run reads every row and only the ledger keeps
 * settled rows from going out again, so it forgets just the rows after `after` (read from the
 * source), and those at or before it stay settled. Returns how many rows it forgot.
 */
export async function forgetRowsAfter(sync: SyncDefinition, store: StateStore, source: Source, mapper: Mapper, after: Position): Promise<number> {
  const ledger = await openLedger(sync, store, { consult: false, record: false });
  let forgotten = 0;
  for await (const page of source.read({ after, columns: mapper.columns })) {
    const digests = page.map((row) => {
      const outcome = encodeChecked(mapper, row);
      return ledger.rowDigest(outcome.json !== undefined ? outcome.eventId : null, mapper.keyOf(row), source.positionOf(row));
    }).filter((d): d is string => d !== undefined);
    await store.forgetLedger(sync.name, digests);
    forgotten += digests.length;
  }
  return forgotten;
}
