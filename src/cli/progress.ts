// A one-line progress display on a terminal; nothing when stderr is not a TTY (cron, CI logs).
import { createRequire } from 'node:module';
import type { RunProgress } from '../engine/run.js';

// Loaded only for a terminal: a run from cron or CI does not wait for it.
const require = createRequire(import.meta.url);

export function progressReporter(sync: string): { update: (p: RunProgress) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const cliProgress = require('cli-progress') as typeof import('cli-progress');
  const started = Date.now();
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${sync}  {rows} rows read  {sent} sent  {processed} processed  {rejected} rejected  {rate} events/s`,
    hideCursor: true,
    clearOnComplete: true,
    fps: 5,
  });
  bar.start(1, 0, { rows: 0, sent: 0, processed: 0, rejected: 0, rate: 0 });
  return {
    update: (p) => {
      const seconds = Math.max(0.001, (Date.now() - started) / 1000);
      bar.update(0, { rows: p.rowsRead, sent: p.eventsSent, processed: p.processed, rejected: p.rejectedLocal + p.rejectedPinterest, rate: Math.round(p.eventsSent / seconds) });
    },
    stop: () => bar.stop(),
  };
}
