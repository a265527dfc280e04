// When a sync is due, from its cron `schedule` (UTC unless `timezone`).
import { Cron } from 'croner';
import type { SyncDefinition } from '../config/schema.js';

function cronOf(sync: SyncDefinition): Cron | undefined {
  return sync.schedule ? new Cron(sync.schedule, { paused: true, timezone: sync.timezone ?? 'UTC' }) : undefined;
}

/** The latest scheduled time at or before `now`. */
export function latestScheduled(sync: SyncDefinition, now: Date): Date | undefined {
  return cronOf(sync)?.previousRuns(1, new Date(now.getTime() + 1))[0];
}

export function nextScheduled(sync: SyncDefinition, now: Date): Date | undefined {
  return cronOf(sync)?.nextRun(now) ?? undefined;
}

/** Due: it has a schedule, and it never ran or its last run started before the latest scheduled time. */
export function isDue(sync: SyncDefinition, lastStartedAt: Date | undefined, now: Date): boolean {
  const latest = latestScheduled(sync, now);
  if (!sync.schedule) return false;
  if (!lastStartedAt) return true;
  return latest !== undefined && lastStartedAt < latest;
}
