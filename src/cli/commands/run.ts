import { parseDuration } from '../../config/duration.js';
import type { SyncDefinition } from '../../config/schema.js';
import { openSync } from '../../engine/prepare.js';
import { runSync, type RunSummary } from '../../engine/run.js';
import { PinsyncError, UsageError } from '../../errors.js';
import { redact } from '../../redact.js';
import { PinterestClient } from '../../pinterest/client.js';
import type { StateStore } from '../../state/store.js';
import type { Position } from '../../sources/types.js';
import { listSyncFiles, resolveSyncFile } from '../resolve.js';
import { formatRunSummary, runSummaryJson, userAgent, warnNullCursors } from '../output.js';
import { progressReporter } from '../progress.js';
import { openState } from '../state.js';
import { previewCommand } from './preview.js';

export interface RunCommandOptions {
  syncsDir: string;
  state?: string;
  all?: boolean;
  dryRun?: boolean;
  fullRefresh?: boolean;
  json?: boolean;
}

/** A Pinterest client for a sync's destination; the token never leaves it. */
export function clientFor(sync: SyncDefinition, overrides: { test?: boolean } = {}): PinterestClient {
  const { destination } = sync;
  return new PinterestClient({
    adAccountId: String(destination.ad_account_id),
    accessToken: destination.access_token!,
    apiUrl: process.env.PINTEREST_API_URL || undefined,
    test: overrides.test ?? destination.test,
    userAgent: userAgent(),
    timeoutMs: parseDuration(destination.timeout) * 1000,
    maxRetryMs: parseDuration(destination.max_retry_time) * 1000,
    connections: destination.concurrency,
  });
}

export async function runOneSync(
  file: string,
  store: StateStore | undefined,
  options: { fullRefresh?: boolean; test?: boolean; startAfter?: Position },
): Promise<{ sync: SyncDefinition; summary: RunSummary }> {
  const { sync, source, mapper } = await openSync(file, { requireDestination: true });
  const client = clientFor(sync, { test: options.test });
  const progress = progressReporter(sync.name);
  try {
    await warnNullCursors(sync, source);
    const summary = await runSync({
      sync, source, mapper, sender: client, store, fullRefresh: options.fullRefresh, startAfter: options.startAfter, onProgress: progress.update,
    });
    return { sync, summary };
  } finally {
    progress.stop();
    await client.close();
    await source.close();
  }
}

/** 1 if the run failed, 3 if it rejected too much, else 0. */
export function exitCodeOf(sync: SyncDefinition, summary: RunSummary): number {
  if (summary.error) return summary.error instanceof PinsyncError ? summary.error.exitCode : 1;
  const rejected = summary.rejectedLocal + summary.rejectedPinterest;
  return summary.rowsRead > 0 && rejected / summary.rowsRead > sync.options.max_reject_rate ? 3 : 0;
}

export async function runCommand(syncArgs: string[], options: RunCommandOptions): Promise<number> {
  if (syncArgs.length > 0 && options.all) throw new UsageError('give sync names or --all, not both');
  if (syncArgs.length === 0 && !options.all) throw new UsageError('name the syncs to run, or use --all');
  const files = options.all ? listSyncFiles(options.syncsDir) : syncArgs.map((s) => resolveSyncFile(s, options.syncsDir));
  if (options.dryRun) {
    // A dry run is a preview of each sync.
    let worst = 0;
    for (const file of files) {
      const code = await previewCommand(file, { syncsDir: options.syncsDir, format: 'ndjson', state: options.state, fullRefresh: options.fullRefresh });
      worst = worst === 1 || code === 1 ? 1 : Math.max(worst, code);
    }
    return worst;
  }
  const store = await openState(options.state);
  let worst = 0;
  try {
    for (const file of files) {
      const { sync, summary } = await runOneSync(file, store, { fullRefresh: options.fullRefresh });
      const code = exitCodeOf(sync, summary);
      if (options.json) process.stdout.write(`${JSON.stringify(runSummaryJson(sync, summary, code))}\n`);
      else process.stdout.write(`${formatRunSummary(sync, summary)}\n`);
      if (summary.error) process.stderr.write(`pinsync: ${sync.name}: ${redact(summary.error.message)}\n`);
      // 1 (failed) outranks 3 (too many rejects).
      worst = worst === 1 || code === 1 ? 1 : Math.max(worst, code);
    }
  } finally {
    await store.close();
  }
  return worst;
}
