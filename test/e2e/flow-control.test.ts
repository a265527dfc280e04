// How a run paces its requests, end to end through the built CLI: two syncs to one ad account
// in one `run --all --parallel 2` share one request budget and take turns; a pinned concurrency
// holds; the 429s a run meets are counted in its summary, its --json and its JSON log.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';
import { clearLeadWork, LEAD_BATCH, leadEnv, writeLeadSync } from '../helpers/lead-syncs.js';

const ROWS = 150;
const BATCH = LEAD_BATCH;
let work: string;
let fake: FakePinterest;

/** A lead sync (test/helpers/lead-syncs.ts) whose batches may retry for 20 s; `destination`: more lines. */
const writeSync = (name: string, destination = '', rows = ROWS) => writeLeadSync(work, name, rows, `max_retry_time: 20s\n${destination}`);
const env = () => leadEnv(work, fake);

/** Which sync sent each request the fake received, in order of arrival. */
const senders = () => fake.bodies.map((body) => (JSON.parse(body) as { data: { event_id: string }[] }).data[0]!.event_id.split('-')[0]!);

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'pinsync-flow-'));
  mkdirSync(path.join(work, 'syncs', 'data'), { recursive: true });
  fake = await new FakePinterest().start();
});

beforeEach(() => {
  fake.reset();
  clearLeadWork(work);
});

afterAll(async () => {
  await fake.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('sending: concurrency and the rate budget', () => {
  it('two syncs to one ad account share one budget and take turns', async () => {
    // Enough rows that the two overlap for seconds, even when one starts late on a busy machine.
    const rows = 2 * ROWS;
    // 10 requests a second at most for both together, with a burst of a tenth of a second's worth.
    const a = writeSync('alpha', 'max_requests_per_minute: 600', rows);
    const b = writeSync('beta', 'max_requests_per_minute: 600', rows);
    fake.latencyMs = 50;
    const result = await runCli(['run', '--all', '--parallel', '2', '--json'], { cwd: work, env: env() });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect([...fake.delivered.keys()].sort()).toEqual([...a, ...b].sort());
    expect(fake.duplicates()).toEqual([]);

    const summaries = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { sync: string; sending: Record<string, unknown> });
    expect(summaries.map((s) => s.sync).sort()).toEqual(['alpha', 'beta']);
    for (const s of summaries) {
      expect(s.sending).toMatchObject({ concurrency: 'auto', requests: rows / BATCH, answered_429: 0 });
      expect(s.sending.settled_concurrency).toBeGreaterThanOrEqual(1);
      expect(s.sending.max_concurrency).toBeLessThanOrEqual(64);
    }

    // The budget holds over any second: 10 a second plus the burst of 1 (one more for timer rounding).
    expect(fake.arrivals).toHaveLength(2 * rows / BATCH);
    expect(fake.mostArrivedWithin(1000)).toBeLessThanOrEqual(12);
    // 60 requests, 1 of them at once: the rest come no faster than 10 a second.
    expect(fake.arrivals.at(-1)! - fake.arrivals[0]!).toBeGreaterThanOrEqual(5800);

    // While both were sending, they took turns: neither got much more than the other.
    const who = senders();
    const lastOfFirstDone = Math.min(who.lastIndexOf('alpha'), who.lastIndexOf('beta'));
    const firstOfLastStarted = Math.max(who.indexOf('alpha'), who.indexOf('beta'));
    const both = who.slice(firstOfLastStarted, lastOfFirstDone + 1);
    const alpha = both.filter((s) => s === 'alpha').length;
    expect(both.length).toBeGreaterThanOrEqual(10);
    expect(Math.min(alpha, both.length - alpha) / Math.max(alpha, both.length - alpha)).toBeGreaterThanOrEqual(0.6);
  });

  it('a pinned concurrency is never exceeded, and the summary says so', async () => {
    const ids = writeSync('pinned', 'concurrency: 2');
    fake.latencyMs = 30;
    const result = await runCli(['run', 'pinned', '--json'], { cwd: work, env: env() });
    expect(result.code).toBe(0);
    expect(fake.delivered.size).toBe(ids.length);
    expect(fake.mostPending).toBeLessThanOrEqual(2);
    expect(JSON.parse(result.stdout).sending).toEqual({ concurrency: 2, settled_concurrency: 2, max_concurrency: 2, requests: ROWS / BATCH, answered_429: 0 });
  });

  it('with auto, a batch waiting out a Retry-After does not hold up the batches behind it', async () => {
    const ids = writeSync('patient');
    fake.latencyMs = 20;
    fake.script.push({ status: 429, retryAfter: '2', body: { code: 8, message: 'This request exceeded a rate limit.' } });
    const result = await runCli(['run', 'patient', '--json'], { cwd: work, env: env() });
    expect(result.code).toBe(0);
    expect(fake.delivered.size).toBe(ids.length);
    // The refused batch (the first) came back after its 2 s; every other batch had been sent by
    // then, where a window of uncommitted batches would have let only the limit's worth through.
    const firstBatch = fake.bodies.findIndex((body) => body.includes(`"${ids[0]}"`));
    expect(firstBatch).toBe(ROWS / BATCH - 1);
    expect(JSON.parse(result.stdout)).toMatchObject({ processed: ids.length, checkpoint: null, sending: { answered_429: 1 } });
  });

  it('counts the 429s a run met in its summary and its JSON log, and still delivers every event once', async () => {
    const ids = writeSync('limited');
    fake.script.push(
      { status: 429, retryAfter: '0', body: { code: 8, message: 'This request exceeded a rate limit.' } },
      { status: 429, retryAfter: '0', body: { code: 8, message: 'This request exceeded a rate limit.' } },
      { status: 429, retryAfter: '0', body: { code: 8, message: 'This request exceeded a rate limit.' } },
    );
    const human = await runCli(['run', 'limited'], { cwd: work, env: env() });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/concurrency auto settled at \d+( \(at most \d+\))?; 18 requests, 3 answered 429 \(rate-limited\)/);
    expect(fake.delivered.size).toBe(ids.length);
    expect(fake.duplicates()).toEqual([]);

    fake.reset();
    rmSync(path.join(work, 'state.db'), { force: true });
    fake.script.push({ status: 429, retryAfter: '0' }, { status: 503 });
    const logged = await runCli(['--log-format', 'json', 'run', 'limited'], { cwd: work, env: env() });
    expect(logged.code).toBe(0);
    const finish = logged.stderr.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.phase === 'finish');
    expect(finish?.sending).toMatchObject({ concurrency: 'auto', requests: ROWS / BATCH + 2, answered_429: 1 });
  });
});
