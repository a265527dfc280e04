// One sync, start to finish, as `run` and `schedule` both do it: load, lock, run, report, notify.
import { parseDuration } from '../config/duration.js';
import { MAX_CONCURRENCY, type SyncDefinition } from '../config/schema.js';
import { locateRefusal, openPipeline } from '../engine/prepare.js';
import { concurrencyFor, runSync, type RunSummary } from '../engine/run.js';
import { readUntil } from '../engine/cursor.js';
import { threadPipeline } from '../engine/reader-thread.js';
import type { Pipeline } from '../engine/pipeline.js';
import { ConfigError, LockedError, PinsyncError, SourceError } from '../core/errors.js';
import { formatProblem, loadSyncFile, type LoadedSync } from '../config/load.js';
import { executeAudience } from './execute-audience.js';
import { exitCodeOf, lockTtlFromEnv, type ExecuteOptions, type Executed } from './execute-common.js';

export { exitCodeOf, lockTtlFromEnv, worseExit, type ExecuteOptions, type Executed } from './execute-common.js';
import { DEFAULT_API_URL, PinterestClient } from '../pinterest/client.js';
import { DEFAULT_REQUESTS_PER_MINUTE, sharedBudget, TEST_REQUESTS_PER_MINUTE } from '../pinterest/rate-budget.js';
import type { CursorKind } from '../sources/cursor.js';
import type { Position } from '../sources/types.js';
import type { SyncLock } from '../state/lock.js';
import { ZERO_COUNTS, type RunCounts } from '../state/store.js';
import { notifyIfNeeded } from './notify.js';
import { userAgent, warnUnreadable } from './output.js';
import { progressReporter } from './progress.js';
import { whileRunning } from './shutdown.js';
import { ExitCode } from '../core/types.js';

/** A Pinterest client for a sync's destination; the token never leaves it. */
export function clientFor(sync: SyncDefinition, overrides: { test?: boolean } = {}): PinterestClient {
  const { destination } = sync;
  const apiUrl = process.env.PINTEREST_API_URL || undefined;
  const test = overrides.test ?? destination.test;
  const adAccountId = String(destination.ad_account_id);
  // Test requests have their own, lower limit (10 a second per app), whatever the live one is.
  const perMinute = test
    ? Math.min(destination.max_requests_per_minute ?? TEST_REQUESTS_PER_MINUTE, TEST_REQUESTS_PER_MINUTE)
    : destination.max_requests_per_minute ?? DEFAULT_REQUESTS_PER_MINUTE;
  return new PinterestClient({
    adAccountId,
    accessToken: destination.access_token!,
    apiUrl,
    test,
    userAgent: userAgent(),
    timeoutMs: parseDuration(destination.timeout) * 1000,
    maxRetryMs: parseDuration(destination.max_retry_time) * 1000,
    connections: destination.concurrency === 'auto' ? MAX_CONCURRENCY : destination.concurrency,
    concurrency: concurrencyFor(destination.concurrency),
    // Test requests are limited per app, not per ad account (rate-budget.ts): one budget for all of them.
    budget: test ? sharedBudget(`${apiUrl ?? DEFAULT_API_URL}?test=true`, 'any ad account', perMinute) : sharedBudget(apiUrl ?? DEFAULT_API_URL, adAccountId, perMinute),
    requestsPerMinute: perMinute,
  });
}

export async function executeSync(file: string, options: ExecuteOptions): Promise<Executed> {
  // Problems in the file itself are not a run: nothing was tried (exit 2, no record).
  const loaded = await loadSyncFile(file, { requireDestination: true });
  if (!loaded.sync) {
    for (const p of loaded.problems) options.reporter.error(loaded.name, formatProblem(p), 'config');
    return { exitCode: ExitCode.invalid };
  }
  if (loaded.sync.kind === 'audience') return executeAudience({ ...loaded, sync: loaded.sync }, options);
  const reader = threadPipeline();
  try {
    return await executeWith(reader, { ...loaded, sync: loaded.sync }, options);
  } finally {
    await reader.close();
  }
}

/** The summary of a run its engine could not report on (it failed before, or the process quits): counts so far. */
function summaryOf(startedAt: Date, runId: number | undefined, checkpoint: Position | null, counts: RunCounts | undefined, end: { error?: unknown; interrupted?: true }): RunSummary {
  // A mapped column the source lacks: the problems themselves, file:line:col, are the message.
  const { error } = end;
  const failure = error === undefined ? undefined
    : error instanceof ConfigError ? new ConfigError(error.problems, error.problems.map(formatProblem).join('; '))
      : error instanceof Error ? error : new Error(String(error));
  return {
    ...(counts ?? ZERO_COUNTS), runId, rejectsByReason: new Map(), droppedIdentifiers: new Map(), startedAt,
    durationMs: Date.now() - startedAt.getTime(), checkpoint, ...(failure ? { error: failure } : {}), ...(end.interrupted ? { interrupted: true } : {}),
  };
}

const QUIT_ERROR = 'the process quit (a second signal, or the end of PINSYNC_STOP_GRACE) before the batches in flight settled; the next run resends them';

async function executeWith(reader: Pipeline, loaded: LoadedSync & { sync: SyncDefinition }, options: ExecuteOptions): Promise<Executed> {
  const { store, reporter } = options;
  const sync = loaded.sync;
  const shown = options.test ? { ...sync, destination: { ...sync.destination, test: true } } : sync;
  const startedAt = new Date();
  const conclude = async (summary: RunSummary): Promise<Executed> => {
    const exitCode = exitCodeOf(sync, summary);
    reporter.finished(shown, summary, exitCode);
    // A remote test (no state) is a check someone is watching, not a run to be alerted about.
    if (store) await notifyIfNeeded(sync, summary, exitCode, reporter);
    return { sync, summary, exitCode };
  };
  let lock: SyncLock | undefined;
  try {
    lock = store ? await store.lock(sync.name, { ttlMs: options.lockTtlMs ?? lockTtlFromEnv() }) : undefined;
  } catch (error) {
    if (error instanceof LockedError) {
      reporter.error(sync.name, error.message, 'locked');
      return { sync, exitCode: ExitCode.locked };
    }
    // The state failed: a run that could not start, reported (and notified) like any failed run.
    return conclude(summaryOf(startedAt, undefined, null, undefined, { error }));
  }
  const client = clientFor(sync, { test: options.test });
  const progress = reporter.format === 'human' ? progressReporter(sync.name) : { update: () => undefined, stop: () => undefined };
  let runId: number | undefined;
  let latest: RunCounts | undefined;
  // If the process must quit mid-run: the record says interrupted (not killed), the lock is free.
  const unregister = whileRunning(async (code) => {
    progress.stop();
    if (store && runId !== undefined) await store.interruptRun(runId, QUIT_ERROR);
    await lock?.release();
    reporter.finished(shown, summaryOf(startedAt, runId, null, latest, { interrupted: true }), code);
  });
  try {
    let summary: RunSummary;
    try {
      // The record starts with the lock held, before the source is opened: a run that cannot reach it is a failed run.
      runId = store ? await store.startRun(sync.name) : undefined;
      reporter.started(sync.name, runId);
      let cursorKind: CursorKind | undefined;
      // From a checkpoint the run reads only what follows it; so does the count (see warnUnreadable).
      const after = options.fullRefresh ? undefined : (await (store ?? options.readState)?.checkpoint(sync.name))?.position;
      try {
        // The reading thread opens the source and compiles the mapper, once; its problems come back placed in the file.
        const now = Date.now();
        const opening = await openPipeline(reader, sync, loaded, { now, after });
        cursorKind = opening.cursorKind;
        await warnUnreadable(sync, { unreadableRows: async () => opening.unreadable! }, readUntil(cursorKind, now), (message) => reporter.warn(sync.name, message), after);
      } catch (error) {
        // A driver's own error (pg's "Invalid URL") says nothing of where it came from.
        if (error instanceof PinsyncError) throw error;
        throw new SourceError(`cannot open the ${sync.source.type} source: ${(error as Error).message.split('\n')[0]}; check source in ${sync.file}`);
      }
      client.warmUp();
      const signals = [lock?.lost, options.signal].filter((s): s is AbortSignal => s !== undefined);
      summary = await runSync({
        sync, reader, sender: client, concurrency: client.concurrency, store, readState: options.readState, runId, cursorKind, fullRefresh: options.fullRefresh,
        testMode: options.test ?? sync.destination.test,
        onProgress: (p) => {
          latest = p;
          progress.update(p);
        },
        signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
      });
      // The reading thread's refusal of the query, placed at source.query like the others.
      if (summary.error) summary.error = locateRefusal(summary.error, loaded) as Error;
    } catch (error) {
      // The run has failed already; a state that cannot say where it stands leaves the summary's checkpoint empty.
      const checkpoint = store ? ((await store.checkpoint(sync.name).catch(() => undefined))?.position ?? null) : null;
      summary = summaryOf(startedAt, runId, checkpoint, latest, { error: locateRefusal(error, loaded) });
      // Best effort: a state that failed may not take the record either.
      if (store && runId !== undefined) await store.finishRun(runId, 'failed', summary, summary.error!.message).catch(() => undefined);
    }
    unregister();
    progress.stop();
    return await conclude(summary);
  } finally {
    unregister();
    progress.stop();
    // The reading thread's query ends before the lock lets the next run start.
    await reader.close();
    // A lock that cannot be released expires (PINSYNC_LOCK_TTL); the run's own outcome is what to report.
    await lock?.release().catch(() => undefined);
    await client.close();
  }
}
