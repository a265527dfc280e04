// Output helpers: stdout with back-pressure, and the human summary of a mapping pass.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { MapStats } from '../engine/preview.js';
import { DROP_REASONS } from '../mapping/normalize.js';

/** Writes text, waiting for 'drain' when the stream's buffer is full, so memory stays flat. */
export function lineWriter(stream: Writable): (line: string) => void | Promise<void> {
  return (line) => {
    if (!stream.write(`${line}\n`)) return once(stream, 'drain').then(() => undefined);
  };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function formatStats(stats: MapStats): string {
  const lines = [`rows read ${stats.rowsRead}, events ${stats.events}, rejected ${stats.rejected}`];
  if (stats.rejectsByReason.size > 0) {
    lines.push('rejected by reason:');
    for (const [label, count] of [...stats.rejectsByReason].sort((a, b) => b[1] - a[1])) {
      lines.push(`  ${String(count).padStart(7)}  ${label}`);
    }
  }
  if (stats.droppedIdentifiers.size > 0) {
    lines.push('identifier values left out as unusable (their rows were still mapped):');
    for (const [key, count] of [...stats.droppedIdentifiers].sort((a, b) => b[1] - a[1])) {
      lines.push(`  ${String(count).padStart(7)}  ${key}: ${DROP_REASONS[key]}`);
    }
  }
  return lines.join('\n');
}

export { plural };
