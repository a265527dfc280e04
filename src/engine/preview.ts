// The dry run: read -> map (the run's own pipeline), handing each event or rejection to the caller. No state, no network.
import type { Reason } from '../mapping/compile.js';
import type { Position } from '../sources/index.js';
import type { UserKey } from '../core/event-schema.js';
import type { Ledger } from './ledger.js';
import { SeenIds } from './seen-ids.js';
import { DUPLICATE_EVENT_ID, reasonLabel } from './reasons.js';
import { textAt } from './packed-texts.js';
import type { LocalPipeline } from './pipeline.js';
import { positionAt, rowCount, type ReadPage } from './reader.js';

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

/** Row i's event as the JSON text a run sends for it. */
function eventText(page: ReadPage, i: number): string {
  return Buffer.from(page.json.buffer, page.json.byteOffset + page.offsets[i]!, page.offsets[i + 1]! - page.offsets[i]! - 1).toString('utf8');
}

/** Reads and maps through the run's own pipeline (opened), handing out what a run would send. */
export async function previewSync(pipeline: LocalPipeline, options: PreviewOptions): Promise<MapStats> {
  const stats: MapStats = {
    rowsRead: 0, alreadyDelivered: 0, events: 0, rejected: 0, skipped: 0, rejectsByReason: new Map(), droppedIdentifiers: new Map(),
  };
  const limit = options.limit ?? Infinity;
  if (limit <= 0) return stats;
  const ledger = options.ledger;
  // The same rules as a run: settled rows are left out, a repeated event_id is a reject.
  const seen = new SeenIds();
  // Mapped in slices no longer than the events still wanted: with --limit, the counts
  // (dropped identifiers among them) cover the rows read, not the whole page.
  for await (const page of pipeline.pages({ after: options.after, until: options.until }, () => limit - stats.events)) {
    stats.droppedIdentifiers = new Map(page.dropped);
    const rows = rowCount(page);
    const digests = ledger?.active
      ? Array.from({ length: rows }, (_, i) => ledger.rowDigest(textAt(page.eventIds, i), textAt(page.keys, i)!, positionAt(page, i)))
      : [];
    const known = ledger?.active ? await ledger.known(digests) : new Set<string>();
    let nextReject = 0;
    let nextSkipped = 0;
    for (let i = 0; i < rows; i++) {
      stats.rowsRead++;
      // Rows without an event are, in row order, either skipped on purpose or rejected.
      const hasEvent = page.offsets[i + 1] !== page.offsets[i];
      const skipped = !hasEvent && page.skipped[nextSkipped] === i;
      if (skipped) nextSkipped++;
      const rowReasons = hasEvent || skipped ? undefined : page.rejects[nextReject++]![1];
      const firstOfId = !hasEvent || seen.add(textAt(page.eventIds, i)!);
      const digest = digests[i];
      if (digest !== undefined && known.has(digest)) {
        stats.alreadyDelivered++;
        continue;
      }
      if (skipped) {
        stats.skipped++;
        continue;
      }
      const reasons = rowReasons ?? (firstOfId ? undefined : [DUPLICATE_EVENT_ID]);
      if (!reasons) {
        stats.events++;
        await options.onEvent(eventText(page, i));
        if (stats.events >= limit) return stats;
      } else {
        stats.rejected++;
        for (const reason of reasons) {
          const label = reasonLabel(reason);
          stats.rejectsByReason.set(label, (stats.rejectsByReason.get(label) ?? 0) + 1);
        }
        options.onReject(textAt(page.keys, i)!, reasons);
      }
    }
  }
  return stats;
}
