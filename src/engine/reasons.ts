// Why rows are rejected, as the run records them and the preview prints them: one wording for both.
import type { Reason } from '../mapping/compile.js';

/** A second event with an event_id this run already sent: Pinterest would keep only one of them. */
export const DUPLICATE_EVENT_ID: Reason = { field: 'event_id', problem: 'duplicate event_id: primary_key is not unique' };

export function reasonLabel(reason: Reason): string {
  return `${reason.field}: ${reason.problem}`;
}

/** All of a row's reasons, with their safe details, on one line. */
export function describeReasons(reasons: readonly Reason[]): string {
  return reasons.map((r) => (r.detail ? `${reasonLabel(r)} (${r.detail})` : reasonLabel(r))).join('; ');
}

/** Rejections grouped by "field: problem". */
export class ReasonCounts extends Map<string, number> {
  count(label: string): void {
    this.set(label, (this.get(label) ?? 0) + 1);
  }
}
