// The dry run: read -> map, handing each event or rejection to the caller. No state, no network.
import type { Event, Mapper, Reason } from '../mapping/compile.js';
import type { Position, Source } from '../sources/index.js';
import type { UserKey } from '../pinterest/event-schema.js';

export interface MapStats {
  rowsRead: number;
  events: number;
  rejected: number;
  /** Rejections grouped by "field: problem". */
  rejectsByReason: Map<string, number>;
  droppedIdentifiers: ReadonlyMap<UserKey, number>;
}

export interface PreviewOptions {
  after?: Position;
  /** Stop after this many events. */
  limit?: number;
  onEvent(event: Event): void | Promise<void>;
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
    rowsRead: 0, events: 0, rejected: 0, rejectsByReason: new Map(), droppedIdentifiers: mapper.droppedIdentifiers,
  };
  const limit = options.limit ?? Infinity;
  if (limit <= 0) return stats;
  for await (const page of source.read({ after: options.after, columns: mapper.columns })) {
    for (const row of page) {
      stats.rowsRead++;
      const outcome = mapper.map(row);
      if (outcome.event) {
        stats.events++;
        await options.onEvent(outcome.event);
        if (stats.events >= limit) return stats;
      } else {
        stats.rejected++;
        for (const reason of outcome.reasons) {
          const label = reasonLabel(reason);
          stats.rejectsByReason.set(label, (stats.rejectsByReason.get(label) ?? 0) + 1);
        }
        options.onReject(mapper.keyOf(row), outcome.reasons);
      }
    }
  }
  return stats;
}
