// One audience sync, start to finish: lock, read and plan, guard, send, report, notify.
import type { LoadedSync } from '../config/load.js';
import type { SyncDefinition } from '../config/schema.js';
import { ConfigError, LockedError, PinsyncError, RemovalGuardError, SourceError } from '../core/errors.js';
import { formatProblem } from '../config/load.js';
import { applyAudience, planAudience, type AudiencePlan } from '../engine/audience.js';
import { locateRefusal, openAudienceSource } from '../engine/prepare.js';
import type { RunSummary } from '../engine/run.js';
import { customerListClientFor as clientFor, type CustomerListClient } from '../pinterest/customer-lists.js';
import type { SyncLock } from '../state/lock.js';
import { ZERO_COUNTS, type RunCounts } from '../state/store.js';
import { ExitCode } from '../core/types.js';
import { notifyIfNeeded } from './notify.js';
import { userAgent } from './output.js';
import { progressReporter } from './progress.js';
import { whileRunning } from './shutdown.js';
import { exitCodeOf, lockTtlFromEnv, type ExecuteOptions, type Executed } from './execute-common.js';

/** The customer-list client for an audience sync's destination; the token never leaves it. */
export function customerListClientFor(sync: SyncDefinition, overrides: { timeoutMs?: number; maxRetryMs?: number } = {}): CustomerListClient {
  return clientFor(sync, { userAgent: userAgent(), apiUrl: process.env.PINTEREST_API_URL || undefined, ...overrides });
}

const QUIT_ERROR = 'the process quit (a second signal, or the end of PINSYNC_STOP_GRACE) before the request in flight settled; the next run sends it again';

/** Stopped by a signal while reading: nothing was sent. */
class Interrupted extends Error {}

/** A summary in the shape every reporter prints: an audience run's counts, and its report. */
function audienceSummary(startedAt: Date, runId: number | undefined, plan: AudiencePlan | undefined, counts: Partial<RunCounts>, extra: Partial<RunSummary>): RunSummary {
  return {
    ...ZERO_COUNTS, ...counts, runId, rejectsByReason: plan?.rejectsByReason ?? new Map(), droppedIdentifiers: plan?.dropped ?? new Map(),
    startedAt, durationMs: Date.now() - startedAt.getTime(), checkpoint: null, ...extra,
  };
}

export async function executeAudience(loaded: LoadedSync & { sync: SyncDefinition }, options: ExecuteOptions): Promise<Executed> {
  const { store, reporter } = options;
  const sync = loaded.sync;
  const startedAt = new Date();
  const conclude = async (summary: RunSummary): Promise<Executed> => {
    const exitCode = exitCodeOf(sync, summary);
    reporter.finished(sync, summary, exitCode);
    if (store) await notifyIfNeeded(sync, summary, exitCode, reporter);
    return { sync, summary, exitCode };
  };
  if (!store) {
    reporter.error(sync.name, 'customer lists have no test mode: `pinsync preview` shows what a run would change', 'config');
    return { sync, exitCode: ExitCode.invalid };
  }
  let lock: SyncLock;
  try {
    lock = await store.lock(sync.name, { ttlMs: options.lockTtlMs ?? lockTtlFromEnv() });
  } catch (error) {
    if (error instanceof LockedError) {
      reporter.error(sync.name, error.message, 'locked');
      return { sync, exitCode: ExitCode.locked };
    }
    return conclude(audienceSummary(startedAt, undefined, undefined, {}, { error: error as Error }));
  }
  const client = customerListClientFor(sync);
  const progress = reporter.format === 'human' ? progressReporter(sync.name, 'records') : { update: () => undefined, stop: () => undefined };
  let runId: number | undefined;
  let plan: AudiencePlan | undefined;
  let latest: Partial<RunCounts> = {};
  const unregister = whileRunning(async (code) => {
    progress.stop();
    if (runId !== undefined) await store.interruptRun(runId, QUIT_ERROR);
    await lock.release();
    reporter.finished(sync, audienceSummary(startedAt, runId, plan, latest, { interrupted: true }), code);
  });
  let source: Awaited<ReturnType<typeof openAudienceSource>>['source'] | undefined;
  try {
    let summary: RunSummary;
    try {
      runId = await store.startRun(sync.name);
      reporter.started(sync.name, runId);
      let reader;
      try {
        ({ source, reader } = await openAudienceSource(sync, loaded));
      } catch (error) {
        if (error instanceof PinsyncError) throw error;
        throw new SourceError(`cannot open the ${sync.source.type} source: ${(error as Error).message.split('\n')[0]}; check source in ${sync.file}`);
      }
      const onProgress = (p: { rowsRead: number; sent: number; settled: number; rejected: number }) => {
        latest = { rowsRead: p.rowsRead, eventsSent: p.sent, processed: p.settled, rejectedLocal: p.rejected, skipped: plan?.skipped ?? 0 };
        progress.update({ ...ZERO_COUNTS, ...latest, batchesSettled: 0, concurrency: 1 });
      };
      const signals = [lock.lost, options.signal].filter((s): s is AbortSignal => s !== undefined);
      const signal = AbortSignal.any(signals);
      if (options.fullRefresh) reporter.warn(sync.name, 'an audience sync reads its whole query on every run: --full-refresh changes nothing (`pinsync reset` forgets the membership)');
      plan = await planAudience(sync, source, reader, store, (rowsRead) => onProgress({ rowsRead, sent: 0, settled: 0, rejected: 0 }), () => signal.aborted);
      await source.close();
      // A lost lock fails the run; a signal stops it before anything was sent.
      if (signal.aborted && signal.reason instanceof Error) throw signal.reason;
      const planCounts = { rowsRead: plan.rowsRead, skipped: plan.skipped, rejectedLocal: plan.rejects.length };
      try {
        if (!plan.complete || signal.aborted) throw new Interrupted();
        const applied = await applyAudience({
          sync, plan, listType: reader.listType, client, store, runId, allowRemovals: options.allowRemovals,
          signal, onProgress, warn: (message) => reporter.warn(sync.name, message),
        });
        const counts = { ...planCounts, eventsSent: applied.sent, processed: applied.settled, resent: applied.resent };
        summary = audienceSummary(startedAt, runId, plan, counts, { audience: applied.report, ...(applied.interrupted ? { interrupted: true } : {}) });
        const outcome = applied.interrupted ? 'interrupted' : exitCodeOf(sync, summary) === ExitCode.rejectsExceeded ? 'rejects_exceeded' : 'succeeded';
        await store.finishRun(runId, outcome, summary);
      } catch (error) {
        summary = audienceSummary(startedAt, runId, plan, { ...latest, ...planCounts }, error instanceof Interrupted ? { interrupted: true } : { error: error as Error });
        if (error instanceof Interrupted) {
          await store.finishRun(runId, 'interrupted', summary);
        } else if (error instanceof RemovalGuardError) {
          await store.recordRejects(sync.name, runId, plan.rejects, { runId, values: { rows_read: plan.rowsRead, skipped: plan.skipped, rejected_local: plan.rejects.length } });
          await store.finishRun(runId, 'removals_refused', summary, error.message);
        } else {
          await store.finishRun(runId, 'failed', summary, (error as Error).message).catch(() => undefined);
        }
      }
    } catch (error) {
      const failure = locateRefusal(error, loaded);
      const located = failure instanceof ConfigError ? new ConfigError(failure.problems, failure.problems.map(formatProblem).join('; ')) : failure as Error;
      summary = audienceSummary(startedAt, runId, plan, latest, { error: located });
      if (runId !== undefined) await store.finishRun(runId, 'failed', summary, located.message).catch(() => undefined);
    }
    unregister();
    progress.stop();
    return await conclude(summary);
  } finally {
    unregister();
    progress.stop();
    await source?.close().catch(() => undefined);
    await lock.release().catch(() => undefined);
    await client.close();
  }
}
