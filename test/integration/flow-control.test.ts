// Issue 23's flow control end to end: the client (real undici) against the fake Pinterest on
// 127.0.0.1, driven like dispatcher.ts drives it (several batches in flight, each waiting for
// `concurrency.limit`), with the adaptive controller and a rate budget. Small real rates, so
// each case takes a few seconds at most; the checks are counts, never durations.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PinterestClient } from '../../src/pinterest/client.js';
import { AdaptiveConcurrency, type AnswerSignal, type Attempt } from '../../src/pinterest/concurrency.js';
import { RateBudget } from '../../src/pinterest/rate-budget.js';
import { RetriesExhaustedError } from '../../src/core/errors.js';
import type { EncodedEvents } from '../../src/core/encoded-events.js';
import { encodeEvents } from '../../src/mapping/encode.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';

let fake: FakePinterest;
const clients: PinterestClient[] = [];

const event = (id: string) => ({
  event_name: 'checkout', action_source: 'web', event_time: Math.floor(Date.now() / 1000) - 60, event_id: id,
  user_data: { em: ['a'.repeat(64)] },
});

/** The controller, recording its limit after every answer and the signals it was told. */
class Recorded extends AdaptiveConcurrency {
  readonly limits: number[] = [];
  readonly signals: AnswerSignal[] = [];
  override answered(attempt: Attempt, signal: AnswerSignal): void {
    super.answered(attempt, signal);
    this.limits.push(this.limit);
    this.signals.push(signal);
  }
}

function client(options: { concurrency: AdaptiveConcurrency; budget?: RateBudget; perMinute?: number; maxRetryMs?: number }): PinterestClient {
  const made = new PinterestClient({
    adAccountId: fake.adAccountId, accessToken: fake.token, apiUrl: fake.url, userAgent: 'pinsync/test',
    maxRetryMs: options.maxRetryMs ?? 60_000, connections: 64, random: () => 0.1,
    concurrency: options.concurrency,
    ...(options.budget ? { budget: options.budget, requestsPerMinute: options.perMinute ?? 600 } : {}),
  });
  clients.push(made);
  return made;
}

/** `count` batches of `size` events, ids `prefix-batch-event`. */
function batches(prefix: string, count: number, size: number): EncodedEvents[] {
  return Array.from({ length: count }, (_, b) => encodeEvents(Array.from({ length: size }, (_, e) => event(`${prefix}-${b}-${e}`))));
}

/**
 * Sends the batches like the dispatcher: a batch leaves once fewer than `concurrency.limit`
 * are under way. Returns the most batches under way at once.
 */
async function sendAll(sender: PinterestClient, all: EncodedEvents[]): Promise<number> {
  const underWay = new Set<Promise<unknown>>();
  let most = 0;
  for (const events of all) {
    while (underWay.size >= sender.concurrency.limit) await Promise.race(underWay);
    const task: Promise<unknown> = sender.send(events).then((results) => {
      expect(results.every((r) => r.status === 'processed')).toBe(true);
    }).finally(() => underWay.delete(task));
    underWay.add(task);
    most = Math.max(most, underWay.size);
  }
  await Promise.all(underWay);
  return most;
}

function expectEachDeliveredOnce(prefix: string, count: number, size: number): void {
  expect(fake.duplicates()).toEqual([]);
  const ours = [...fake.delivered.keys()].filter((id) => id.startsWith(`${prefix}-`));
  expect(ours.length).toBe(count * size);
}

beforeAll(async () => {
  fake = await new FakePinterest().start();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await fake.stop();
});
beforeEach(() => fake.reset());

describe('flow control against the fake Pinterest', () => {
  it('keeps to the budget: no more requests in any second than the pace and its tenth-of-a-second burst', async () => {
    const budget = new RateBudget(600); // 10 a second
    const concurrency = new Recorded(64);
    const sender = client({ concurrency, budget, perMinute: 600 });
    fake.latencyMs = 20;
    await sendAll(sender, batches('pace', 30, 2));
    expectEachDeliveredOnce('pace', 30, 2);
    expect(fake.throttled).toBe(0);
    // 10 a second, 1 at once: 11, and one or two more for the time a request spends on the way.
    expect(fake.mostArrivedWithin(1_000)).toBeLessThanOrEqual(13);
    expect(fake.mostArrivedWithin(2_000)).toBeLessThanOrEqual(23);
    // The budget, not the server, was the bottleneck: requests that waited for it never grew the window.
    expect(concurrency.report().max).toBeLessThan(8);
    expect(fake.mostPending).toBeLessThanOrEqual(concurrency.report().max);
  });

  it('on 429s above the server\'s limit: cuts the concurrency and the pace, delivers every event once, and counts every 429', async () => {
    const budget = new RateBudget(1_200); // 20 a second, twice what the server takes
    const concurrency = new Recorded(64);
    const sender = client({ concurrency, budget, perMinute: 1_200 });
    fake.rateLimit = 10;
    fake.latencyMs = 30;
    const most = await sendAll(sender, batches('limited', 30, 3));
    expectEachDeliveredOnce('limited', 30, 3);
    expect(fake.throttled).toBeGreaterThan(0);
    expect(fake.mostArrivedWithin(1_000, 'accepted')).toBeLessThanOrEqual(10);
    expect(fake.mostArrivedWithin(1_000)).toBeLessThanOrEqual(20 + 2 + 2);
    // Every 429 counted once, by the controller and by the budget.
    expect(concurrency.report().throttled).toBe(fake.throttled);
    expect(budget.report().throttled).toBe(fake.throttled);
    expect(concurrency.report().requests).toBe(fake.requests);
    // Both cut: the limit went below where it started, the pace below its ceiling.
    expect(Math.min(...concurrency.limits)).toBeLessThan(4);
    expect(budget.report().pace).toBeLessThan(20);
    expect(most).toBeLessThanOrEqual(concurrency.report().max);
    expect(fake.mostPending).toBeLessThanOrEqual(concurrency.report().max);
  });

  it('two syncs sharing one budget take turns: neither is starved, and together they keep to it', async () => {
    const budget = new RateBudget(600);
    const first = client({ concurrency: new Recorded(64), budget, perMinute: 600 });
    const second = client({ concurrency: new Recorded(64), budget, perMinute: 600 });
    fake.latencyMs = 20;
    await Promise.all([sendAll(first, batches('first', 15, 1)), sendAll(second, batches('second', 15, 1))]);
    expectEachDeliveredOnce('first', 15, 1);
    expectEachDeliveredOnce('second', 15, 1);
    expect(fake.mostArrivedWithin(1_000)).toBeLessThanOrEqual(13);
    // The first 20 requests answered: both syncs had a fair share of them.
    const early = fake.bodies.slice(0, 20).map((body) => (body.includes('"first-') ? 'first' : 'second'));
    expect(early.filter((s) => s === 'first').length).toBeGreaterThanOrEqual(7);
    expect(early.filter((s) => s === 'second').length).toBeGreaterThanOrEqual(7);
  });

  it('grows above 4 when answers are slow (200 ms) but healthy, and the server never has more in flight than the limit allowed', async () => {
    const concurrency = new Recorded(64);
    const sender = client({ concurrency, budget: new RateBudget(60_000), perMinute: 60_000 });
    fake.latencyMs = 200;
    const most = await sendAll(sender, batches('slow', 60, 2));
    expectEachDeliveredOnce('slow', 60, 2);
    expect(concurrency.report().max).toBeGreaterThan(4);
    expect(concurrency.signals.every((s) => s === 'ok')).toBe(true);
    expect(most).toBeGreaterThan(4);
    expect(fake.mostPending).toBeLessThanOrEqual(concurrency.report().max);
    expect(fake.mostPending).toBeGreaterThan(4);
  });

  it('never goes above its cap, however slow and healthy the answers', async () => {
    const concurrency = new Recorded(6);
    const sender = client({ concurrency });
    fake.latencyMs = 150;
    await sendAll(sender, batches('cap', 30, 1));
    expectEachDeliveredOnce('cap', 30, 1);
    expect(concurrency.report().max).toBe(6);
    expect(fake.mostPending).toBeLessThanOrEqual(6);
    expect(fake.mostPending).toBeGreaterThan(4);
  });

  it('shrinks on 503s (x0.5), and still delivers every event once', async () => {
    const concurrency = new Recorded(64);
    const sender = client({ concurrency });
    fake.latencyMs = 20;
    fake.script.push(...Array.from({ length: 6 }, () => ({ status: 503 })));
    await sendAll(sender, batches('overload', 20, 2));
    expectEachDeliveredOnce('overload', 20, 2);
    expect(concurrency.signals.filter((s) => s === 'overloaded').length).toBe(6);
    expect(Math.min(...concurrency.limits)).toBeLessThanOrEqual(2);
    expect(concurrency.report().throttled).toBe(0);
  });

  it('counts the wait for a turn in the budget toward max_retry_time, and names the setting when it runs out', async () => {
    const budget = new RateBudget(6); // one request in 10 s
    const sender = client({ concurrency: new Recorded(64), budget, perMinute: 6, maxRetryMs: 1_000 });
    expect((await sender.send(encodeEvents([event('turn-1')])))[0]!.status).toBe('processed');
    const error = await sender.send(encodeEvents([event('turn-2')])).catch((e: Error) => e);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as Error).message).toMatch(/max_retry_time \(1s\) waiting for its turn .*destination\.max_requests_per_minute/);
    expect(fake.requests).toBe(1);
  });

  it('a 503 between two 429s does not count as accepted: the stretch of refusals cuts the pace once', async () => {
    let t = 0;
    const budget = new RateBudget(6_000, () => t); // 100 a second
    // Each retry waits 1.5 s on the budget's clock: past the one-cut-a-second interval.
    const sender = new PinterestClient({
      adAccountId: fake.adAccountId, accessToken: fake.token, apiUrl: fake.url, userAgent: 'pinsync/test', random: () => 0,
      concurrency: new Recorded(64), budget, requestsPerMinute: 6_000,
      sleep: async () => void (t += 1_500),
    });
    clients.push(sender);
    fake.script.push({ status: 429, retryAfter: '0' }, { status: 503 }, { status: 429, retryAfter: '0' });
    expect((await sender.send(encodeEvents([event('stretch-1')])))[0]!.status).toBe('processed');
    expect(fake.requests).toBe(4);
    // The first 429 cut to a quarter (25 a second; nothing taken yet); the second belongs to the
    // same stretch. Had the 503 counted as accepted, it would have cut again, to about 7.
    expect(budget.report().pace).toBeGreaterThan(20);
    expect(budget.report().throttled).toBe(2);
  });

  it('stops waiting for its turn when the run fails elsewhere', async () => {
    const budget = new RateBudget(6);
    const sender = client({ concurrency: new Recorded(64), budget, perMinute: 6 });
    await sender.send(encodeEvents([event('halt-1')]));
    const halt = new AbortController();
    const waiting = sender.send(encodeEvents([event('halt-2')]), halt.signal).catch((e: Error) => e);
    halt.abort(new Error('the run failed'));
    const error = await waiting;
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as Error).message).toMatch(/stopped waiting to send.*the run failed elsewhere/);
    expect(fake.requests).toBe(1);
  });
});
