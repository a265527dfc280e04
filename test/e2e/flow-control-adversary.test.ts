// Adversarial cases for the request budget and `concurrency: auto`, the way a user meets them
// through the built CLI: a sync's ceiling must not outlive its run, test requests share one
// budget, every request is counted once whatever its answer, a stop mid-run while batches wait
// for their turn settles what it sent and the next run sends the rest once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';
import { clearLeadWork, LEAD_BATCH, leadEnv, writeLeadSync } from '../helpers/lead-syncs.js';

const BATCH = LEAD_BATCH;
const OTHER_ACCOUNT = '549757463399';
let work: string;
let fake: FakePinterest;

const writeSync = (name: string, rows: number, destination = '', account?: string) => writeLeadSync(work, name, rows, destination, account);
const env = () => leadEnv(work, fake);

const jsonLines = (text: string) => text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'pinsync-flow-adversary-'));
  fake = await new FakePinterest().start();
});

beforeEach(() => {
  fake.reset();
  fake.moreAdAccounts.clear();
  clearLeadWork(work);
});

afterAll(async () => {
  await fake.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('the request budget, across the syncs of one process', () => {
  it("a sync's low max_requests_per_minute does not hold back the syncs run after it", async () => {
    // One request in 10 s for `trickle`; `bulk`, run next in the same process, allows ten a second.
    // Were trickle's pace left behind, bulk's fourth batch would wait about 8 s for its turn and
    // run out of its max_retry_time.
    writeSync('trickle', 5, 'max_requests_per_minute: 6');
    const bulk = writeSync('bulk', 15 * BATCH, 'max_requests_per_minute: 600\nmax_retry_time: 4s');
    const result = await runCli(['run', 'trickle', 'bulk', '--json'], { cwd: work, env: env() });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(jsonLines(result.stdout).map((s) => [s.sync, s.outcome])).toEqual([['trickle', 'succeeded'], ['bulk', 'succeeded']]);
    expect(bulk.every((id) => fake.delivered.get(id) === 1)).toBe(true);
  });

  it('test requests to two ad accounts share one budget (Pinterest limits them per app)', async () => {
    fake.moreAdAccounts.add(OTHER_ACCOUNT);
    const a = writeSync('alpha', 12 * BATCH, 'test: true');
    const b = writeSync('beta', 12 * BATCH, 'test: true', OTHER_ACCOUNT);
    const result = await runCli(['run', '--all', '--parallel', '2', '--json'], { cwd: work, env: env() });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect([...fake.testDelivered.keys()].sort()).toEqual([...a, ...b].sort());
    expect(fake.arrivals).toHaveLength(24);
    // 10 test requests a second for the two together (600 a minute, a burst of one, and one more for timer rounding).
    expect(fake.mostArrivedWithin(1000)).toBeLessThanOrEqual(12);
  });
});

describe('every request counted once, whatever its answer', () => {
  it("sending's requests and answered_429 match what Pinterest received: retries, splits, probes, timeouts", async () => {
    const ids = writeSync('mixed', 6 * BATCH, 'timeout: 1s\nmax_retry_time: 20s');
    // A bad event: its batch is refused whole with 400, probed and halved until it stands alone.
    fake.badRequestEvents.add('mixed-0015');
    fake.script.push(
      { status: 429, body: { code: 8, message: 'This request exceeded a rate limit.' } },
      { status: 429, retryAfter: '0', body: { code: 8, message: 'This request exceeded a rate limit.' } },
      { status: 503 },
      { status: 200, raw: '<html>upstream hiccup</html>' },
      { status: 200, dripMs: 200 },
      { status: 408 },
    );
    const result = await runCli(['run', 'mixed', '--json'], { cwd: work, env: env() });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as { sending: Record<string, unknown>; processed: number; rejected_pinterest: number };
    expect(summary).toMatchObject({ processed: ids.length - 1, rejected_pinterest: 1 });
    expect(summary.sending).toMatchObject({ concurrency: 'auto', requests: fake.requests, answered_429: 2 });
    expect(summary.sending.max_concurrency).toBeLessThanOrEqual(64);
    await fake.idle();
  });
});

describe('stopping while batches wait for their turn', () => {
  it('a batch that fails the run stops the batches waiting for their turn; the next run sends everything once', async () => {
    // One request a second: the first batch leaves at once, the others wait for their turn.
    const ids = writeSync('halted', 5 * BATCH, 'max_requests_per_minute: 60');
    fake.script.push({ status: 429, retryAfter: '3600', body: { code: 8, message: 'This request exceeded a rate limit.' } });
    const failed = await runCli(['run', 'halted', '--json'], { cwd: work, env: env() });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/Pinterest asked to wait 3600s \(Retry-After/);
    const summary = JSON.parse(failed.stdout) as { outcome: string; sending: { requests: number; answered_429: number } };
    expect(summary).toMatchObject({ outcome: 'failed', sending: { requests: fake.requests, answered_429: 1 } });
    // The waiting batches gave up (the next turn was a second away): nothing else was sent.
    expect(fake.requests).toBeLessThanOrEqual(2);

    writeSync('halted', 5 * BATCH);
    const rest = await runCli(['run', 'halted', '--json'], { cwd: work, env: env() });
    expect(rest.code).toBe(0);
    expect(JSON.parse(rest.stdout)).toMatchObject({ outcome: 'succeeded', processed: ids.length });
    expect([...fake.delivered.keys()].sort()).toEqual(ids);
    expect(fake.duplicates()).toEqual([]);
  });

  it('SIGTERM mid-run settles what was sent; the next run sends the rest, each event once', async () => {
    // Ten requests a second: most batches wait for their turn when the signal comes.
    const ids = writeSync('paced', 20 * BATCH, 'max_requests_per_minute: 600');
    fake.latencyMs = 20;
    const victim = startCli(['run', 'paced', '--json'], { cwd: work, env: env() });
    await fake.deliveredAtLeast(5 * BATCH, victim.done);
    victim.child.kill('SIGTERM');
    const stopped = await victim.done;
    expect(stopped.stderr).toMatch(/^stopping: no more reading; settling the batches in flight/);
    const first = JSON.parse(stopped.stdout) as { outcome: string; processed: number };
    expect(first.outcome).toBe('interrupted');
    // Everything sent was settled before exit.
    expect(first.processed).toBe(fake.delivered.size);
    expect(fake.delivered.size).toBeLessThan(ids.length);

    fake.latencyMs = 0;
    const rest = await runCli(['run', 'paced', '--json'], { cwd: work, env: env() });
    expect(rest.code).toBe(0);
    expect(JSON.parse(rest.stdout)).toMatchObject({ outcome: 'succeeded', resent: 0 });
    expect([...fake.delivered.keys()].sort()).toEqual(ids);
    expect(fake.duplicates()).toEqual([]);
  });
});
