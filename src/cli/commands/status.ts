import { readableText, type RunRecord } from '../../state/store.js';
import { openState } from '../state.js';
import { loadSyncFile } from '../../config/load.js';
import { listSyncFiles, resolveSyncFile } from '../resolve.js';
import { existsSync } from 'node:fs';
import type { SyncDefinition } from '../../config/schema.js';
import { isDue, nextScheduled } from '../schedule-times.js';
import { UsageError } from '../../errors.js';
import type { StateStore } from '../../state/store.js';

export interface StatusOptions {
  syncsDir: string;
  state?: string;
  json?: boolean;
}

/** A sync's name in the state: the argument itself, or the name of the sync file it points to. */
async function stateName(arg: string, syncsDir: string, store: StateStore): Promise<string> {
  try {
    return (await loadSyncFile(resolveSyncFile(arg, syncsDir), { requireDestination: false })).name;
  } catch (error) {
    // A sync whose file is gone still has state; a name with neither is a typo, as in preview.
    if (error instanceof UsageError && !(await store.syncs()).includes(arg)) {
      throw new UsageError(`${error.message}; the state has no sync '${arg}' either (pinsync status lists every sync)`);
    }
    return arg;
  }
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function runJson(r: RunRecord): Record<string, unknown> {
  return {
    id: r.id, started_at: iso(r.startedAt), ended_at: iso(r.endedAt), outcome: r.outcome, error: r.error,
    rows_read: r.rowsRead, already_delivered: r.alreadyDelivered, events_sent: r.eventsSent, processed: r.processed,
    rejected_local: r.rejectedLocal, rejected_pinterest: r.rejectedPinterest, resent: r.resent,
  };
}

export async function statusCommand(syncName: string | undefined, options: StatusOptions): Promise<number> {
  const store = await openState(options.state);
  try {
    // Every sync file, and every sync the state knows (its file may be gone).
    const files = new Map<string, SyncDefinition>();
    if (!syncName && existsSync(options.syncsDir)) {
      for (const file of listSyncFiles(options.syncsDir)) {
        const loaded = await loadSyncFile(file, { requireDestination: false });
        if (loaded.sync) files.set(loaded.name, loaded.sync);
      }
    }
    const names = syncName ? [await stateName(syncName, options.syncsDir, store)] : [...new Set([...files.keys(), ...(await store.syncs())])].sort();
    const now = new Date();
    const report = [];
    for (const name of names) {
      const checkpoint = await store.checkpoint(name);
      const runs = await store.runs(name, 5);
      const rejects = runs[0] ? await store.rejects(runs[0].id, 100) : [];
      const sync = files.get(name);
      const schedule = sync?.schedule
        ? { schedule: sync.schedule, timezone: sync.timezone ?? 'UTC', next_run: iso(nextScheduled(sync, now) ?? null), due: isDue(sync, runs[0]?.startedAt, now) }
        : undefined;
      report.push({ name, checkpoint, runs, rejects, schedule, ledger: await store.ledgerSize(name) });
    }
    if (options.json) {
      process.stdout.write(`${JSON.stringify(report.map((r) => ({
        sync: r.name,
        schedule: r.schedule ?? null,
        last_run: r.runs[0] ? runJson(r.runs[0]) : null,
        ledger_entries: r.ledger,
        checkpoint: r.checkpoint ? { ...r.checkpoint.position, updated_at: iso(r.checkpoint.updatedAt) } : null,
        runs: r.runs.map(runJson),
        last_run_rejects: r.rejects.map((x) => ({ primary_key: x.primaryKey, event_id: x.eventId, stage: x.stage, reason: x.reason })),
      })), null, 2)}\n`);
      return 0;
    }
    if (report.length === 0) process.stdout.write('no runs recorded yet\n');
    for (const r of report) {
      const cp = r.checkpoint?.position;
      const when = r.schedule ? `  schedule "${r.schedule.schedule}" (${r.schedule.timezone}), next ${r.schedule.next_run}${r.schedule.due ? ', due now' : ''}` : '';
      // Key text a terminal would mangle (a NUL) is shown escaped, as in rejects.
      process.stdout.write(`${r.name}${when}\n  checkpoint: ${cp ? `${readableText(cp.cursor) ?? ''}${cp.key !== null ? ` (primary key ${readableText(cp.key)})` : ''}`.trim() : 'none'}\n`);
      if (r.ledger > 0) process.stdout.write(`  ledger: ${r.ledger} delivered events remembered\n`);
      if (r.runs.length === 0) process.stdout.write('  no runs yet\n');
      for (const run of r.runs) {
        process.stdout.write(`  run ${run.id}  ${run.startedAt.toISOString()}  ${run.outcome.padEnd(16)} read ${run.rowsRead}, sent ${run.eventsSent}, processed ${run.processed}, rejected ${run.rejectedLocal + run.rejectedPinterest}${run.resent ? `, resent ${run.resent}` : ''}${run.error ? `\n      error: ${run.error}` : ''}\n`);
      }
      if (r.rejects.length > 0) {
        process.stdout.write(`  rejects of run ${r.runs[0]!.id}:\n`);
        for (const x of r.rejects) process.stdout.write(`    ${x.primaryKey}  [${x.stage}]  ${x.reason}\n`);
      }
    }
    return 0;
  } finally {
    await store.close();
  }
}
