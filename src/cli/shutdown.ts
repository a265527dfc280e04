// SIGTERM and SIGINT: the first asks for a clean stop, a second one quits at once, and so
// does the end of the grace period (PINSYNC_STOP_GRACE, default 90s), so a batch stuck in
// retries cannot outlast a service manager's stop timeout. Quitting loses nothing: the
// next run resends what was in flight.
import { parseDuration } from '../config/duration.js';

export function onShutdown(stop: () => void): () => void {
  let asked = false;
  const handler = (signal: NodeJS.Signals) => {
    if (asked) process.exit(signal === 'SIGINT' ? 130 : 143);
    asked = true;
    const grace = parseDuration(process.env.PINSYNC_STOP_GRACE ?? '90s') * 1000;
    setTimeout(() => {
      process.stderr.write('pinsync: batches in flight did not settle within the stop grace period; quitting (the next run resends them)\n');
      process.exit(143);
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
