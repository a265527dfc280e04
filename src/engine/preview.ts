// The dry run: read -> map, handing each event or rejection to the caller. No state, no network.
import type { Mapper, Reason, Row } from '../mapping/compile.js';
import { encodeChecked } from '../mapping/encode.js';
import type { Position, Source } from '../sources/index.js';
import type { UserKey } from '../core/event-schema.js';
import type { Ledger } from './ledger.js';
import { SeenIds } from './seen-ids.js';

/** A second event with an event_id this run already sent: Pinterest would keep only one of them. */
export const DUPLICATE_EVENT_ID: Reason = { field: 'event_id', problem: 'duplicate event_id: primary_key is not unique' };

export interface MapStats {
  rowsRead: number;
  /** Rows the ledger shows settled before (delivered or rejected): a run would not send or reject them again. */
  alreadyDelivered: number;
  events: number;
  rejected: number;
  /** Rows the sync file's `skip:` leaves out on purpose. */
  skipped: number;
  /** Rejections grouped by "field: problem". */
  rejectsByReason: Map<string, number>;
  droppedIdentifiers: ReadonlyMap<UserKey, number>;
}

export interface PreviewOptions {
  /** Where a run would start reading (the ledger's start: checkpoint, window, since). */
  after?: Position;
  /** The latest cursor value a run now would read. */
  until?: string;
  /** The sync's ledger (read-only), so the preview leaves out what a run would not send. */
  ledger?: Ledger;
  /** Stop after this many events. */
  limit?: number;
  /** Each event's JSON text: the bytes a run would send for it. */
  onEvent(json: string): void | Promise<void>;
  onReject(key: string, reasons: Reason[]): void;
}

export function reasonLabel(reason: Reason): string {
  return `${reason.field}: ${reason.problem}`;
}

/** All of a row's reasons, with their safe details, on one line. */
export function describeReasons(reasons: readonly Reason[]): string {
  return reasons.map((r) => (r.detail ? `${reasonLabel(r)} (${r.detail})` : reasonLabel(r))).join('; ');
}

export async function previewSync(source: Source, mapper: Mapper, options: PreviewOptions): Promise<MapStats> {
  const stats: MapStats = {
    rowsRead: 0, alreadyDelivered: 0, events: 0, rejected: 0, skipped: 0, rejectsByReason: new Map(), droppedIdentifiers: mapper.droppedIdentifiers,
  };
  const limit = options.limit ?? Infinity;
  if (limit <= 0) return stats;
  const ledger = options.ledger;
  // The same rules as a run: settled rows are left out, a repeated event_id is a reject.
  const seen = new SeenIds();
  for await (const page of source.read({ after: options.after, until: options.until, columns: mapper.columns })) {
    // Mapped in slices no longer than the events still wanted: with --limit, the counts
    // (dropped identifiers among them) cover the rows read, not the whole page.
    for (let from = 0; from < page.length;) {
      const slice = page.slice(from, from + Math.min(page.length - from, limit - stats.events));
      from += slice.length;
      if (await previewRows(slice)) return stats;
    }
  }
  return stats;

  /** Hands out a slice of rows; true once the limit is reached. */
  async function previewRows(rows: Row[]): Promise<boolean> {
    const outcomes = rows.map((row) => encodeChecked(mapper, row));
    const digests = ledger?.active
      ? outcomes.map((o, i) => {
        const position = source.positionOf(rows[i]!);
        return ledger.rowDigest(o.json !== undefined ? o.eventId : null, mapper.keyOf(rows[i]!), position);
      })
      : [];
    const known = ledger?.active ? await ledger.known(digests) : new Set<string>();
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      stats.rowsRead++;
      const outcome = outcomes[i]!;
      const digest = digests[i];
      const firstOfId = outcome.json === undefined || seen.add(outcome.eventId);
      if (digest !== undefined && known.has(digest)) {
        stats.alreadyDelivered++;
        continue;
      }
      if (outcome.skipped) {
        stats.skipped++;
        continue;
      }
      const reasons = outcome.json === undefined ? outcome.reasons : firstOfId ? undefined : [DUPLICATE_EVENT_ID];
      if (!reasons) {
        stats.events++;
        await options.onEvent(outcome.json!);
        if (stats.events >= limit) return true;
      } else {
        stats.rejected++;
        for (const reason of reasons) {
          const label = reasonLabel(reason);
          stats.rejectsByReason.set(label, (stats.rejectsByReason.get(label) ?? 0) + 1);
        }
        options.onReject(mapper.keyOf(row), reasons);
      }
    }
    return false;
  }
}
