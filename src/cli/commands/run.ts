import { UsageError } from '../../core/errors.js';
import { executeSync, worseExit } from '../execute.js';
import { createReporter, type LogFormat } from '../report.js';
import { loadNamed, reportClashes, type Clash, type NamedFile } from '../names.js';
import { existsSync } from 'node:fs';
import { listSyncFiles, resolveSyncFile } from '../resolve.js';
import { isDue } from '../schedule-times.js';
import { onShutdown } from '../shutdown.js';
import { openState } from '../state.js';
import { previewCommand } from './preview.js';
import { ExitCode } from '../../core/types.js';

export interface RunCommandOptions {
  syncsDir: string;
  state?: string;
  all?: boolean;
  due?: boolean;
  parallel?: number;
  dryRun?: boolean;
  fullRefresh?: boolean;
  json?: boolean;
  allowRemovals?: boolean;
  logFormat: LogFormat;
}

/** Runs `task` over `items`, at most `parallel` at a time, in order of start. */
async function pool<T>(items: T[], parallel: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
}

/**
 * Named files whose sync name another file in the syncs folder also has: two cron lines
 * (`run a`, `run b`) would share one checkpoint as surely as `run --all`.
 */
async function clashesInFolder(named: NamedFile[], syncsDir: string): Promise<Clash[]> {
  if (!existsSync(syncsDir)) return [];
  const names = new Set(named.map(({ loaded }) => loaded.name));
  const { clashes } = await loadNamed([...named.map(({ file }) => file), ...listSyncFiles(syncsDir)], { requireDestination: false });
  return clashes.filter((clash) => names.has(clash.name));
}

export async function runCommand(syncArgs: string[], options: RunCommandOptions): Promise<ExitCode> {
  const modes = [syncArgs.length > 0, options.all === true, options.due === true].filter(Boolean).length;
  if (modes !== 1) throw new UsageError('name the syncs to run, or give --all or --due (one of them)');
  const files = syncArgs.length > 0 ? syncArgs.map((s) => resolveSyncFile(s, options.syncsDir)) : listSyncFiles(options.syncsDir);
  if (options.dryRun) {
    // A dry run is a preview of each sync.
    let worst: ExitCode = ExitCode.success;
    for (const file of files) {
      worst = worseExit(worst, await previewCommand(file, { syncsDir: options.syncsDir, format: 'ndjson', state: options.state, fullRefresh: options.fullRefresh }));
    }
    return worst;
  }
  const reporter = createReporter({ format: options.logFormat, jsonSummaries: options.json });
  // Before anything runs: two files of one name would share a checkpoint.
  const { named, clashes } = await loadNamed(files, { requireDestination: false });
  const shared = clashes.length === 0 && syncArgs.length > 0 ? await clashesInFolder(named, options.syncsDir) : clashes;
  if (reportClashes(shared, (name, line) => reporter.error(name, line, 'config'))) return ExitCode.invalid;
  const store = await openState(options.state);
  const stop = new AbortController();
  const release = onShutdown(() => {
    reporter.info('stopping: no more reading; settling the batches in flight and saving checkpoints (signal again to quit now)');
    stop.abort('signal');
  }, (message) => reporter.error(undefined, message, 'shutdown'));
  let worst: ExitCode = ExitCode.success;
  try {
    let targets = named;
    if (options.due) {
      const now = new Date();
      targets = [];
      for (const target of named) {
        const { loaded } = target;
        if (!loaded.sync) {
          targets.push(target); // reported as invalid when it runs
          continue;
        }
        const last = (await store.runs(loaded.name, 1))[0];
        if (isDue(loaded.sync, last?.startedAt, now)) targets.push(target);
      }
      if (targets.length === 0) reporter.info('no sync is due');
    }
    await pool(targets, Math.max(1, options.parallel ?? 1), async ({ file, loaded }) => {
      if (stop.signal.aborted) return;
      try {
        const { exitCode } = await executeSync(file, { store, reporter, fullRefresh: options.fullRefresh, signal: stop.signal, allowRemovals: options.allowRemovals });
        worst = worseExit(worst, exitCode);
      } catch (error) {
        // One sync's failure must not end the others (nor close the store under them).
        reporter.error(loaded.name, `${file}: ${(error as Error).message}`);
        worst = worseExit(worst, ExitCode.failed);
      }
    });
  } finally {
    release();
    await store.close();
  }
  return worst;
}
