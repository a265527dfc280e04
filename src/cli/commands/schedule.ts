// `pinsync schedule`: stays up and runs each sync on its cron, never two runs of one sync at
// once. SIGTERM or SIGINT: no new runs, running ones stop reading, settle what is in flight,
// save their checkpoints, and the process exits 0.
import { Cron } from 'croner';
import { formatProblem } from '../../config/load.js';
import type { SyncDefinition } from '../../config/schema.js';
import { executeSync } from '../execute.js';
import { createReporter, type LogFormat } from '../report.js';
import { loadNamed, reportClashes } from '../names.js';
import { listSyncFiles } from '../resolve.js';
import { isDue } from '../schedule-times.js';
import { onShutdown } from '../shutdown.js';
import { openState } from '../state.js';
import { ExitCode } from '../../core/types.js';

export interface ScheduleOptions {
  syncsDir: string;
  state?: string;
  logFormat: LogFormat;
  parallel?: number;
}

export async function scheduleCommand(options: ScheduleOptions): Promise<ExitCode> {
  const reporter = createReporter({ format: options.logFormat });
  const scheduled: { file: string; sync: SyncDefinition }[] = [];
  let invalid = 0;
  const { named, clashes } = await loadNamed(listSyncFiles(options.syncsDir), { requireDestination: true });
  for (const { file, loaded } of named) {
    if (!loaded.sync) {
      invalid++;
      for (const problem of loaded.problems) reporter.error(loaded.name, formatProblem(problem), 'config');
    } else if (loaded.sync.schedule) scheduled.push({ file, sync: loaded.sync });
    else reporter.info(`${loaded.name} has no schedule; run it with pinsync run`, { sync: loaded.name, phase: 'skip' });
  }
  // Two files of one name would share a checkpoint (even if only one has a schedule).
  if (reportClashes(clashes, (name, line) => reporter.error(name, line, 'config'))) invalid++;
  // A scheduler that silently skipped a broken sync would hide it for days.
  if (invalid > 0) {
    reporter.error(undefined, 'the scheduler starts only when every sync file is valid');
    return ExitCode.invalid;
  }
  if (scheduled.length === 0) {
    reporter.error(undefined, `no sync in ${options.syncsDir} has a schedule`);
    return ExitCode.invalid;
  }

  const store = await openState(options.state);
  const stop = new AbortController();
  const running = new Set<Promise<void>>();
  const busy = new Set<string>();
  const limit = Math.max(1, options.parallel ?? 4);
  const queue: (() => void)[] = [];

  const start = (file: string, sync: SyncDefinition) => {
    if (stop.signal.aborted || busy.has(sync.name)) return; // never two runs of one sync
    busy.add(sync.name);
    const task = (async () => {
      if (running.size >= limit) await new Promise<void>((resolve) => queue.push(resolve));
      try {
        if (!stop.signal.aborted) await executeSync(file, { store, reporter, signal: stop.signal });
      } catch (error) {
        reporter.error(sync.name, (error as Error).message);
      } finally {
        busy.delete(sync.name);
        queue.shift()?.();
      }
    })();
    running.add(task);
    void task.finally(() => running.delete(task));
  };

  // Listening before anything starts, so no run is ever cut off by an unhandled signal.
  let release: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    release = onShutdown(() => {
      reporter.info('stopping: no new runs; running ones settle their batches in flight and save checkpoints', { phase: 'shutdown' });
      stop.abort('signal');
      resolve();
    }, (message) => reporter.error(undefined, message, 'shutdown'));
  });
  const jobs = scheduled.map(({ file, sync }) => new Cron(sync.schedule!, { timezone: sync.timezone ?? 'UTC', protect: true }, () => start(file, sync)));
  for (const [i, { sync }] of scheduled.entries()) {
    reporter.info(`${sync.name}: scheduled "${sync.schedule}" (${sync.timezone ?? 'UTC'}), next at ${jobs[i]!.nextRun()?.toISOString()}`, { sync: sync.name, phase: 'scheduled', next_run: jobs[i]!.nextRun()?.toISOString() });
  }
  // Runs missed while the scheduler was down are due now.
  const now = new Date();
  for (const { file, sync } of scheduled) {
    const last = (await store.runs(sync.name, 1))[0];
    if (isDue(sync, last?.startedAt, now)) start(file, sync);
  }
  await stopped;
  for (const job of jobs) job.stop();
  // Still listening while runs settle: a second signal, or the grace period's end, quits.
  await Promise.allSettled([...running]);
  release();
  await store.close();
  reporter.info('scheduler stopped', { phase: 'stopped' });
  return ExitCode.success;
}
