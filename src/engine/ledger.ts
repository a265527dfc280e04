// The ledger of delivered events, for syncs that read rows again: with `lookback` (each run
// re-reads a window before the checkpoint, for rows that land late) and without a cursor
// (each run reads everything). A row whose event is in the ledger is not sent again.
import { createHash } from 'node:crypto';
import { parseDuration } from '../config/duration.js';
import type { SyncDefinition } from '../config/schema.js';
import { SourceError } from '../errors.js';
import type { Position } from '../sources/types.js';
import type { StateStore } from '../state/store.js';

const TIMESTAMP_TEXT = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Cursor text as epoch milliseconds when it is a date or timestamp (UTC unless it says otherwise); null otherwise. */
export function cursorMs(position: Position): number | null {
  const m = position.cursor === null ? null : TIMESTAMP_TEXT.exec(position.cursor.trim());
  if (!m) return null;
  let zone = m[3] ?? 'Z';
  if (/^[+-]\d{2}$/.test(zone)) zone += ':00';
  else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const time = (m[2] ?? '00:00:00').replace(/(\.\d{3})\d+/, '$1');
  const ms = Date.parse(`${m[1]}T${time}${zone}`);
  return Number.isNaN(ms) ? null : ms;
}

/** A time as cursor text every SQL source casts to a timestamp in UTC. */
function cursorText(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

export interface Ledger {
  /** Whether rows need ledger digests at all (most syncs keep no ledger). */
  readonly active: boolean;
  /** Where to start reading: the checkpoint, moved back by the lookback window. */
  startAfter(checkpoint: Position | undefined): Position | undefined;
  /**
   * The checkpoint to save after a batch: its last row, but never behind where the run
   * started (rows re-read inside the window must not move the checkpoint back).
   */
  checkpointAfter(last: Position, started: Position | undefined): Position;
  /** The event's ledger key; undefined when the sync keeps no ledger. */
  digest(eventId: string, position: Position): string | undefined;
  known(digests: (string | undefined)[]): Promise<Set<string>>;
  /** Drops entries the window can no longer reach. */
  prune(checkpoint: Position | null): Promise<void>;
  /** Whether settled events go into the ledger. */
  readonly record: boolean;
}

const NONE: Ledger = {
  active: false,
  startAfter: (checkpoint) => checkpoint,
  checkpointAfter: (last) => last,
  digest: () => undefined,
  known: async () => new Set(),
  prune: async () => undefined,
  record: false,
};

export interface LedgerOptions {
  /** Consult the ledger; --full-refresh does not, so everything is sent again. */
  consult: boolean;
  /** Record deliveries; a test-mode run does not, since Pinterest recorded nothing. */
  record: boolean;
}

export function ledgerFor(sync: SyncDefinition, store: StateStore | undefined, options: LedgerOptions): Ledger {
  const lookbackMs = sync.source.lookback ? parseDuration(sync.source.lookback) * 1000 : undefined;
  const withCursor = sync.source.cursor !== undefined;
  if (!store || (withCursor && lookbackMs === undefined)) return NONE;
  return {
    active: options.record || options.consult,
    startAfter(checkpoint) {
      if (!checkpoint || lookbackMs === undefined) return checkpoint;
      const ms = cursorMs(checkpoint);
      if (ms === null) throw new SourceError(`source.lookback needs a timestamp cursor; ${sync.source.cursor} holds '${checkpoint.cursor}'`);
      return { cursor: cursorText(ms - lookbackMs), key: null };
    },
    checkpointAfter(last, started) {
      if (lookbackMs === undefined || !started) return last;
      const at = cursorMs(last);
      const from = cursorMs(started);
      // Equal to the millisecond counts as not past: microseconds are not compared here.
      return at !== null && from !== null && at > from ? last : started;
    },
    digest(eventId, position) {
      if (!options.record && !options.consult) return undefined;
      // With a cursor, a changed row (new cursor value) is a new delivery; without one, the event is.
      const identity = withCursor ? `${eventId}\u0000${position.cursor}` : eventId;
      return createHash('sha256').update(identity).digest('base64url').slice(0, 22);
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
    record: options.record,
    async prune(checkpoint) {
      const ms = checkpoint ? cursorMs(checkpoint) : null;
      if (lookbackMs !== undefined && ms !== null) await store.pruneLedger(sync.name, ms - lookbackMs);
    },
  };
}
