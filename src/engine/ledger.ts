// The ledger of delivered events, for syncs that read rows again: with `lookback` (each run
// re-reads a window before the checkpoint, for rows that land late) and without a cursor
// (each run reads everything). A row whose event is in the ledger is not sent again.
import { createHash } from 'node:crypto';
import { parseDuration } from '../config/duration.js';
import type { SyncDefinition } from '../config/schema.js';
import { SourceError } from '../errors.js';
import type { Event } from '../mapping/compile.js';
import type { Position } from '../sources/types.js';
import type { StateStore } from '../state/store.js';

/** Cursor text as epoch milliseconds, when it is a time (for pruning); null otherwise. */
export function cursorMs(position: Position): number | null {
  if (position.cursor === null) return null;
  let text = position.cursor.trim().replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00');
  // Timestamps without a zone are UTC here, as everywhere in pinsync.
  if (/T[\d:.]+$/.test(text)) text += 'Z';
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

/** A time as cursor text every SQL source casts to a timestamp in UTC. */
function cursorText(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

export interface Ledger {
  /** Where to start reading: the checkpoint, moved back by the lookback window. */
  startAfter(checkpoint: Position | undefined): Position | undefined;
  /** The event's ledger key; undefined when the sync keeps no ledger. */
  digest(event: Event, position: Position): string | undefined;
  known(digests: (string | undefined)[]): Promise<Set<string>>;
  /** Drops entries the window can no longer reach. */
  prune(checkpoint: Position | null): Promise<void>;
}

const NONE: Ledger = {
  startAfter: (checkpoint) => checkpoint,
  digest: () => undefined,
  known: async () => new Set(),
  prune: async () => undefined,
};

export function ledgerFor(sync: SyncDefinition, store: StateStore | undefined): Ledger {
  const lookbackMs = sync.source.lookback ? parseDuration(sync.source.lookback) * 1000 : undefined;
  const withCursor = sync.source.cursor !== undefined;
  if (!store || (withCursor && lookbackMs === undefined)) return NONE;
  return {
    startAfter(checkpoint) {
      if (!checkpoint || lookbackMs === undefined) return checkpoint;
      const ms = cursorMs(checkpoint);
      if (ms === null) throw new SourceError(`source.lookback needs a timestamp cursor; ${sync.source.cursor} holds '${checkpoint.cursor}'`);
      return { cursor: cursorText(ms - lookbackMs), key: null };
    },
    digest(event, position) {
      // With a cursor, a changed row (new cursor value) is a new delivery; without one, the event is.
      const identity = withCursor ? `${String(event.event_id)}\u0000${position.cursor}` : String(event.event_id);
      return createHash('sha256').update(identity).digest('base64url').slice(0, 22);
    },
    async known(digests) {
      const present = digests.filter((d): d is string => d !== undefined);
      return present.length === 0 ? new Set() : store.delivered(sync.name, present);
    },
    async prune(checkpoint) {
      const ms = checkpoint ? cursorMs(checkpoint) : null;
      if (lookbackMs !== undefined && ms !== null) await store.pruneLedger(sync.name, ms - lookbackMs);
    },
  };
}
