// One sync, start to finish, as `run` and `schedule` both do it: load, lock, run, report, notify.
import { parseDuration } from '../config/duration.js';
import type { SyncDefinition } from '../config/schema.js';
import { openSync } from '../engine/prepare.js';
import { runSync, type RunSummary } from '../engine/run.js';
import { readUntil } from '../engine/cursor.js';
import { threadReader, type ThreadReader } from '../engine/reader-thread.js';
import { mappingDefinition } from '../mapping/compile.js';
import { ConfigError, LockedError, PinsyncError } from '../errors.js';
import { formatProblem } from '../config/load.js';
import { PinterestClient } from '../pinterest/client.js';
import type { StateStore } from '../state/store.js';
import { notifyIfNeeded } from './notify.js';
import { userAgent, warnUnreadable } from './output.js';
import { progressReporter } from './progress.js';
import type { Reporter } from './report.js';

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

/** PINSYNC_LOCK_TTL (a duration such as 2m) tunes how long a lease lasts without renewal. */
export function lockTtlFromEnv(): number | undefined {
  const text = process.env.PINSYNC_LOCK_TTL;
  return text ? parseDuration(text) * 1000 : undefined;
}

/** 1 if the run failed, 3 if it rejected too much, else 0. */
export function exitCodeOf(sync: SyncDefinition, summary: RunSummary): number {
  if (summary.error) return summary.error instanceof PinsyncError ? summary.error.exitCode : 1;
  if (summary.interrupted) return 0;
  const rejected = summary.rejectedLocal + summary.rejectedPinterest;
  return summary.rowsRead > 0 && rejected / summary.rowsRead > sync.options.max_reject_rate ? 3 : 0;
}

/** The worse of two exit codes: 1 (failed), then 2 (invalid), 4 (locked), 3 (too many rejects), 0. */
export function worseExit(a: number, b: number): number {
  const rank = (code: number) => [0, 3, 4, 2, 1].indexOf(code);
  return rank(b) > rank(a) ? b : a;
}

export interface ExecuteOptions {
  store?: StateStore;
  reporter: Reporter;
  fullRefresh?: boolean;
  test?: boolean;
  /** A remote test's state, read and never written: where to start, and the ledger. */
  readState?: StateStore;
  signal?: AbortSignal;
  lockTtlMs?: number;
}

export interface Executed {
  sync?: SyncDefinition;
  summary?: RunSummary;
  exitCode: number;
}

export async function executeSync(file: string, options: ExecuteOptions): Promise<Executed> {
  const reader = threadReader();
  try {
    return await executeWith(reader, file, options);
  } finally {
    await reader.close();
  }
}

async function executeWith(reader: ThreadReader, file: string, options: ExecuteOptions): Promise<Executed> {
  const { store, reporter } = options;
  let opened;
  try {
    opened = await openSync(file, { requireDestination: true });
  } catch (error) {
    if (error instanceof ConfigError) for (const p of error.problems) reporter.error(undefined, formatProblem(p), 'config');
    else reporter.error(undefined, `${file}: ${(error as Error).message}`);
    return { exitCode: error instanceof PinsyncError ? error.exitCode : 1 };
  }
  const { sync, source, cursorKind } = opened;
  let lock;
  try {
    lock = store ? await store.lock(sync.name, { ttlMs: options.lockTtlMs ?? lockTtlFromEnv() }) : undefined;
  } catch (error) {
    await source.close();
    if (error instanceof LockedError) {
      reporter.error(sync.name, error.message, 'locked');
      return { sync, exitCode: 4 };
    }
    throw error;
  }
  const client = clientFor(sync, { test: options.test });
  const progress = reporter.format === 'human' ? progressReporter(sync.name) : { update: () => undefined, stop: () => undefined };
  try {
    reporter.started(sync.name);
    await warnUnreadable(sync, source, readUntil(cursorKind, Date.now()), (message) => reporter.warn(sync.name, message));
    const signals = [lock?.lost, options.signal].filter((s): s is AbortSignal => s !== undefined);
    // The run reads on its own thread, with its own connection; this one has served its purpose.
    const columnTypes = [...await source.columnTypes()];
    await source.close();
    reader.configure({ source: sync.source, file: sync.file, mapping: mappingDefinition(sync), columnTypes });
    client.warmUp();
    const summary = await runSync({
      sync, reader, sender: client, store, readState: options.readState, cursorKind, fullRefresh: options.fullRefresh,
      testMode: options.test ?? sync.destination.test,
      onProgress: progress.update, signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
    });
    progress.stop();
    const exitCode = exitCodeOf(sync, summary);
    reporter.finished(options.test ? { ...sync, destination: { ...sync.destination, test: true } } : sync, summary, exitCode);
    await notifyIfNeeded(sync, summary, exitCode, reporter);
    return { sync, summary, exitCode };
  } finally {
    progress.stop();
    // The reading thread's query ends before the lock lets the next run start.
    await reader.close();
    await source.close();
    await lock?.release().catch(() => undefined);
    await client.close();
  }
}

