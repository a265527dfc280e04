import { countColumns, readableText, type RejectRecord, type RunRecord, type StateStore } from '../../state/store.js';
import { openStateReadOnly } from '../state.js';
import { loadSyncFile } from '../../config/load.js';
import { listSyncFiles, resolveSyncFile } from '../resolve.js';
import { existsSync } from 'node:fs';
import type { SyncDefinition } from '../../config/schema.js';
import { isDue, nextScheduled } from '../schedule-times.js';
import { UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/types.js';
import { customerListClientFor } from '../execute-audience.js';

/** Rejects of the last run listed when `--rejects` is not given. */
export const DEFAULT_REJECTS_SHOWN = 100;

export interface StatusOptions {
  syncsDir: string;
  state?: string;
  json?: boolean;
  /** How many of the last run's rejects to list: a number, or every one. */
  rejects?: number | 'all';
  /** Only the rejects of this stage. */
  stage?: RejectRecord['stage'];
}

/** A sync's name in the state, and its definition when its file loads: the argument, or the file it points to. */
async function namedSync(arg: string, syncsDir: string, store: StateStore | undefined): Promise<{ name: string; sync?: SyncDefinition }> {
  try {
    const loaded = await loadSyncFile(resolveSyncFile(arg, syncsDir), { requireDestination: false });
    return { name: loaded.name, ...(loaded.sync ? { sync: loaded.sync } : {}) };
  } catch (error) {
    // A sync whose file is gone still has state; a name with neither is a typo, as in preview.
    if (error instanceof UsageError && !((await store?.syncs()) ?? []).includes(arg)) {
      throw new UsageError(`${error.message}; the state has no sync '${arg}' either (pinsync status lists every sync)`);
    }
    return { name: arg };
  }
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function runJson(r: RunRecord, audience: boolean): Record<string, unknown> {
  return {
    id: r.id, started_at: iso(r.startedAt), ended_at: iso(r.endedAt), outcome: r.outcome, error: r.error,
    ...countColumns(r), ...(audience ? { members_added: r.membersAdded, members_removed: r.membersRemoved } : {}),
  };
}

type AudienceStatus = Awaited<ReturnType<typeof audienceStatus>>;

/** An audience sync's list: as the state knows it, and as Pinterest reports it (when the sync file's token is at hand). */
async function audienceStatus(name: string, sync: SyncDefinition | undefined, store: StateStore | undefined) {
  const list = await store?.audienceList(name);
  const counts = (await store?.memberCounts(name)) ?? { member: 0, adding: 0, removing: 0, leaving: 0 };
  let pinterest: Record<string, unknown> | null = null;
  if (list && sync?.destination.access_token && sync.destination.ad_account_id !== undefined) {
    const client = customerListClientFor(sync, { timeoutMs: 10_000, maxRetryMs: 20_000 });
    try {
      const found = await client.getList(list.listId);
      pinterest = found
        ? { status: found.status ?? null, num_uploaded_user_records: found.numUploadedUserRecords ?? null, num_removed_user_records: found.numRemovedUserRecords ?? null, num_batches: found.numBatches ?? null, updated_time: found.updatedTime ?? null }
        : { error: `ad account ${list.adAccountId} has no customer list ${list.listId} any more` };
    } catch (error) {
      pinterest = { error: (error as Error).message };
    } finally {
      await client.close();
    }
  }
  return {
    customer_list_id: list?.listId ?? null, customer_list_name: list?.listName ?? null, list_type: list?.listType ?? null, audience_id: list?.audienceId ?? null,
    size: counts.member + counts.adding + counts.removing + counts.leaving, unsettled: counts.adding + counts.removing, to_remove: counts.leaving, pinterest,
  };
}

function writeAudience(a: AudienceStatus): void {
  const out = (line: string) => process.stdout.write(`  ${line}\n`);
  if (a.customer_list_id === null) out('customer list: none yet (the first run finds it by name or creates it)');
  else out(`customer list ${a.customer_list_id} '${a.customer_list_name}' (${a.list_type})${a.audience_id ? `, audience ${a.audience_id}` : ''}`);
  out(`members as pinsync knows them: ${a.size}${a.unsettled > 0 ? ` (${a.unsettled} sent by an interrupted run and not settled: the next run sends them again)` : ''}`);
  if (a.to_remove > 0) out(`${a.to_remove} of them an interrupted run decided to remove: the next run removes them, unless they are back in the query`);
  const p = a.pinterest;
  if (!p) {
    if (a.customer_list_id !== null) out("Pinterest's status: not asked (the sync file's destination.access_token is not set here)");
    return;
  }
  if (typeof p.error === 'string') out(`Pinterest's status: unavailable (${p.error})`);
  else {
    const small = p.status === 'TOO_SMALL' ? ': fewer than 100 of its members matched Pinterest accounts, so it cannot be targeted yet' : '';
    out(`Pinterest's status: ${String(p.status)}${small}; ${String(p.num_uploaded_user_records)} records uploaded, ${String(p.num_removed_user_records)} removed, in ${String(p.num_batches)} batch${p.num_batches === 1 ? '' : 'es'} (Pinterest counts every record sent, repeats included)`);
  }
}

/** The last run's rejects: counts by stage and reason, the first few, and how many are not listed. */
async function lastRunRejects(store: StateStore | undefined, run: RunRecord | undefined, options: StatusOptions) {
  if (!store || !run) return { total: 0, byReason: [], listed: [], more: 0 };
  const byReason = await store.rejectCounts(run.id, options.stage);
  const total = byReason.reduce((n, r) => n + r.count, 0);
  const limit = options.rejects === 'all' ? undefined : options.rejects ?? DEFAULT_REJECTS_SHOWN;
  const listed = await store.rejects(run.id, { ...(limit !== undefined ? { limit } : {}), ...(options.stage ? { stage: options.stage } : {}) });
  return { total, byReason, listed, more: total - listed.length };
}

export async function statusCommand(syncName: string | undefined, options: StatusOptions): Promise<ExitCode> {
  // Reading needs no write access: a state that does not exist yet has no runs.
  const store = await openStateReadOnly(options.state);
  try {
    // Every sync file, and every sync the state knows (its file may be gone).
    const files = new Map<string, SyncDefinition>();
    const named = syncName === undefined ? undefined : await namedSync(syncName, options.syncsDir, store);
    if (named?.sync) files.set(named.name, named.sync);
    if (!named && existsSync(options.syncsDir)) {
      for (const file of listSyncFiles(options.syncsDir)) {
        const loaded = await loadSyncFile(file, { requireDestination: false });
        if (loaded.sync) files.set(loaded.name, loaded.sync);
      }
    }
    const names = named ? [named.name] : [...new Set([...files.keys(), ...((await store?.syncs()) ?? [])])].sort();
    const now = new Date();
    const report = [];
    for (const name of names) {
      const checkpoint = await store?.checkpoint(name);
      const runs = (await store?.runs(name, 5)) ?? [];
      const rejects = await lastRunRejects(store, runs[0], options);
      const sync = files.get(name);
      const schedule = sync?.schedule
        ? { schedule: sync.schedule, timezone: sync.timezone ?? 'UTC', next_run: iso(nextScheduled(sync, now) ?? null), due: isDue(sync, runs[0]?.startedAt, now) }
        : undefined;
      const audience = sync?.kind === 'audience' || (await store?.audienceList(name)) ? await audienceStatus(name, sync, store) : undefined;
      report.push({ name, checkpoint, runs, rejects, schedule, ledger: (await store?.ledgerSize(name)) ?? 0, audience });
    }
    if (options.json) {
      process.stdout.write(`${JSON.stringify(report.map((r) => ({
        sync: r.name,
        schedule: r.schedule ?? null,
        last_run: r.runs[0] ? runJson(r.runs[0], r.audience !== undefined) : null,
        ledger_entries: r.ledger,
        checkpoint: r.checkpoint ? { ...r.checkpoint.position, updated_at: iso(r.checkpoint.updatedAt) } : null,
        runs: r.runs.map((run) => runJson(run, r.audience !== undefined)),
        last_run_rejects: r.rejects.listed.map((x) => ({ primary_key: x.primaryKey, event_id: x.eventId, stage: x.stage, reason: x.reason })),
        last_run_rejects_total: r.rejects.total,
        last_run_rejects_not_listed: r.rejects.more,
        last_run_rejects_by_reason: r.rejects.byReason,
        ...(r.audience ? { audience: r.audience } : {}),
      })), null, 2)}\n`);
      return ExitCode.success;
    }
    if (report.length === 0) process.stdout.write('no runs recorded yet\n');
    for (const r of report) {
      const cp = r.checkpoint?.position;
      const when = r.schedule ? `  schedule "${r.schedule.schedule}" (${r.schedule.timezone}), next ${r.schedule.next_run}${r.schedule.due ? ', due now' : ''}` : '';
      // Key text a terminal would mangle (a NUL) is shown escaped, as in rejects.
      process.stdout.write(`${r.name}${when}\n  checkpoint: ${cp ? `${readableText(cp.cursor) ?? ''}${cp.key !== null ? ` (primary key ${readableText(cp.key)})` : ''}`.trim() : 'none'}\n`);
      if (r.ledger > 0) process.stdout.write(`  ledger: ${r.ledger} delivered events remembered\n`);
      if (r.audience) writeAudience(r.audience);
      if (r.runs.length === 0) process.stdout.write('  no runs yet\n');
      for (const run of r.runs) {
        const changes = r.audience ? `added ${run.membersAdded}, removed ${run.membersRemoved},` : `sent ${run.eventsSent}, processed ${run.processed},`;
        process.stdout.write(`  run ${run.id}  ${run.startedAt.toISOString()}  ${run.outcome.padEnd(16)} read ${run.rowsRead}, ${changes} rejected ${run.rejectedLocal + run.rejectedPinterest}${run.skipped ? `, skipped ${run.skipped}` : ''}${run.resent ? `, resent ${run.resent}` : ''}${run.error ? `\n      error: ${run.error}` : ''}\n`);
      }
      writeRejects(r.name, r.runs[0], r.rejects, options);
    }
    return ExitCode.success;
  } finally {
    await store?.close();
  }
}

const TOP_REASONS = 10;

function writeRejects(name: string, run: RunRecord | undefined, rejects: Awaited<ReturnType<typeof lastRunRejects>>, options: StatusOptions): void {
  if (!run || rejects.total === 0) return;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`  rejects of run ${run.id}${options.stage ? ` at stage ${options.stage}` : ''}: ${rejects.total}, by reason:`);
  for (const group of rejects.byReason.slice(0, TOP_REASONS)) out(`    ${String(group.count).padStart(7)}  [${group.stage}]  ${group.reason}`);
  if (rejects.byReason.length > TOP_REASONS) out(`             … and ${rejects.byReason.length - TOP_REASONS} other reasons (--json lists them all)`);
  if (rejects.listed.length > 0) out(`  ${rejects.more > 0 ? `the first ${rejects.listed.length}` : 'each one'}:`);
  for (const x of rejects.listed) out(`    ${x.primaryKey}  [${x.stage}]  ${x.reason}`);
  if (rejects.more > 0) out(`  … and ${rejects.more} more: pinsync status ${name} --rejects all${options.stage ? ` --stage ${options.stage}` : ''} (or --stage local|pinterest)`);
}
