// A one-line progress display on a terminal; nothing when stderr is not a TTY (cron, CI logs).
import { createRequire } from 'node:module';
import type { RunProgress } from '../engine/run.js';

// Loaded only for a terminal: a run from cron or CI does not wait for it.
const require = createRequire(import.meta.url);

// events/s over the last few seconds: what the run does now, not its average since the start.
const RATE_WINDOW_MS = 5_000;

/** Events a second over a sliding window of (time, events sent) samples. */
export function recentRate(samples: { at: number; sent: number }[], now: number, sent: number): number {
  samples.push({ at: now, sent });
  while (samples.length > 2 && samples[1]!.at <= now - RATE_WINDOW_MS) samples.shift();
  const first = samples[0]!;
  const seconds = (now - first.at) / 1000;
  return seconds > 0 ? Math.round((sent - first.sent) / seconds) : 0;
}

export function progressReporter(sync: string, unit: 'events' | 'records' = 'events'): { update: (p: RunProgress) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const cliProgress = require('cli-progress') as typeof import('cli-progress');
  const samples = [{ at: Date.now(), sent: 0 }];
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${sync}  {rows} rows read  {sent} sent  {processed} processed  {rejected} rejected  {rate} ${unit}/s${unit === 'events' ? '  {concurrency} in flight at most' : ''}`,
    hideCursor: true,
    clearOnComplete: true,
    fps: 5,
  });
  bar.start(1, 0, { rows: 0, sent: 0, processed: 0, rejected: 0, rate: 0, concurrency: 0 });
  return {
    update: (p) => {
      const rate = recentRate(samples, Date.now(), p.eventsSent);
      bar.update(0, { rows: p.rowsRead, sent: p.eventsSent, processed: p.processed, rejected: p.rejectedLocal + p.rejectedPinterest, rate, concurrency: p.concurrency });
    },
    stop: () => bar.stop(),
  };
}
