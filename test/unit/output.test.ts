import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatRunSummary, lineWriter, runSummaryJson } from '../../src/cli/output.js';
import { recentRate } from '../../src/cli/progress.js';
import type { RunSummary } from '../../src/engine/run.js';
import { ZERO_COUNTS } from '../../src/state/store.js';
import { ExitCode } from '../../src/core/types.js';
import { BASE_SYNC, syncFrom } from '../helpers/sync.js';

describe('lineWriter', () => {
  it('waits for the reader when the stream buffer is full, so output never piles up in memory', async () => {
    const written: string[] = [];
    let release: (() => void) | undefined;
    const slow = new Writable({
      highWaterMark: 8,
      write(chunk, _encoding, done) {
        written.push(String(chunk));
        release = done;
      },
    });
    const write = lineWriter(slow);
    const first = write('a line longer than the buffer');
    expect(first).toBeInstanceOf(Promise);
    let resolved = false;
    void (first as Promise<void>).then(() => (resolved = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(resolved).toBe(false);
    release!();
    await first;
    expect(resolved).toBe(true);
    expect(written).toEqual(['a line longer than the buffer\n']);
  });

  it('returns at once while there is room', () => {
    const sink = new Writable({ highWaterMark: 1024, write: (_c, _e, done) => done() });
    expect(lineWriter(sink)('short')).toBeUndefined();
  });
});

describe('what a run says about its sending', () => {
  const sync = syncFrom(BASE_SYNC);
  const summary = (sending?: RunSummary['sending']): RunSummary => ({
    ...ZERO_COUNTS, eventsSent: 3000, processed: 3000, rowsRead: 3000, rejectsByReason: new Map(), droppedIdentifiers: new Map(),
    startedAt: new Date(0), durationMs: 1000, checkpoint: null, ...(sending ? { sending } : {}),
  });

  it('names where auto settled, its highest, the requests and the 429s, in the summary and in --json', () => {
    const s = summary({ setting: 'auto', settled: 18, max: 24, requests: 1012, throttled: 12 });
    expect(formatRunSummary(sync, s)).toContain('  concurrency auto settled at 18 (at most 24); 1012 requests, 12 answered 429 (rate-limited)');
    expect(runSummaryJson(sync, s, ExitCode.success).sending).toEqual({ concurrency: 'auto', settled_concurrency: 18, max_concurrency: 24, requests: 1012, answered_429: 12 });
  });

  it('names a pinned concurrency as such, and says nothing of sending when nothing was sent', () => {
    expect(formatRunSummary(sync, summary({ setting: 4, settled: 4, max: 4, requests: 3, throttled: 0 }))).toContain('  concurrency 4; 3 requests, 0 answered 429');
    expect(formatRunSummary(sync, summary({ setting: 'auto', settled: 4, max: 4, requests: 0, throttled: 0 }))).not.toContain('concurrency');
    expect(runSummaryJson(sync, summary(), ExitCode.failed).sending).toBeNull();
  });
});

describe('the progress line\'s events/s', () => {
  it('is the rate over the last five seconds, not the average since the start', () => {
    const samples = [{ at: 0, sent: 0 }];
    // 10 s at 1,000 events/s, then 1 s at 10,000: the line shows the recent pace.
    for (let t = 1000; t <= 10_000; t += 1000) recentRate(samples, t, t);
    expect(recentRate(samples, 11_000, 20_000)).toBe(2800);
    expect(samples[0]!.at).toBeGreaterThanOrEqual(5000);
  });

  it('is 0 before any time has passed', () => {
    expect(recentRate([], 5, 100)).toBe(0);
  });
});
