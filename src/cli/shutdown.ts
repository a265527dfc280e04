// SIGTERM and SIGINT: the first asks for a clean stop, a second one quits at once, and so
// does the end of the grace period (PINSYNC_STOP_GRACE, default 90s), so a batch stuck in
// retries cannot outlast a service manager's stop timeout. Quitting loses nothing: the
// next run resends what was in flight. Before quitting, each run still under way ends its
// record as interrupted (within QUIT_WAIT_MS), so `status` does not call it killed.
import { parseDuration } from '../config/duration.js';
import { ExitCode } from '../core/types.js';

// How long a quit waits for the runs' records: a state store that hangs must not hold it.
const QUIT_WAIT_MS = 2_000;

/** What each run under way does if the process quits before it ends. */
const onQuit = new Set<(code: ExitCode) => Promise<void>>();

/** Registers what to do (record the run as interrupted) if the process quits mid-run; returns the unregistration. */
export function whileRunning(quitting: (code: ExitCode) => Promise<void>): () => void {
  onQuit.add(quitting);
  return () => onQuit.delete(quitting);
}

async function quit(code: ExitCode): Promise<never> {
  // Each quitter settles what it can before the process exits; one that fails must not hold up the others.
  const pending = [...onQuit].map((quitting) => quitting(code).catch(() => undefined));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(pending), new Promise((resolve) => (timer = setTimeout(resolve, QUIT_WAIT_MS)))]);
  clearTimeout(timer);
  process.exit(code);
}

/** `say` tells the user why the process quits (through the command's reporter, so JSON logs stay JSON). */
export function onShutdown(stop: () => void, say: (message: string) => void = (m) => process.stderr.write(`pinsync: ${m}\n`)): () => void {
  let asked = false;
  let quitting = false;
  const handler = (signal: NodeJS.Signals) => {
    const code = signal === 'SIGINT' ? ExitCode.sigint : ExitCode.sigterm;
    // A signal while the runs' records are being ended: quit now.
    if (quitting) process.exit(code);
    if (asked) {
      quitting = true;
      void quit(code);
      return;
    }
    asked = true;
    const grace = parseDuration(process.env.PINSYNC_STOP_GRACE ?? '90s') * 1000;
    setTimeout(() => {
      quitting = true;
      say('batches in flight did not settle within the stop grace period; quitting (the next run resends them)');
      void quit(143);
    }, grace).unref();
    stop();
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}
