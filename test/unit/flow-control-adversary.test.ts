// Adversarial cases for the request budget and `concurrency: auto` that only an injected clock
// can show without timing: what a cut, a ceiling or an aborted wait leaves behind.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AdaptiveConcurrency } from '../../src/pinterest/concurrency.js';
import { RateBudget } from '../../src/pinterest/rate-budget.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('concurrency: auto after a cut', () => {
  it('an answer of the round before the cut does not raise the window back', () => {
    const controller = new AdaptiveConcurrency(64, () => 0);
    // Four requests that waited for the budget (so the window is not "in use").
    const attempts = Array.from({ length: 4 }, () => controller.started({ queued: true, events: 10 }));
    expect(controller.limit).toBe(4);
    controller.answered(attempts[0]!, 'overloaded');
    expect(controller.limit).toBe(2);
    for (const attempt of attempts.slice(1)) controller.answered(attempt, 'ok');
    expect(controller.limit).toBeLessThanOrEqual(2);
  });
});

describe('the rate budget', () => {
  it('a 429 never raises the pace above a ceiling under one request in 10 s', () => {
    let now = 0;
    const budget = new RateBudget(1, () => now);
    budget.join(1);
    const turn = budget.tryAcquire()!;
    now += 1000;
    budget.answered(turn, 'throttled');
    expect(budget.report().pace).toBeLessThanOrEqual(budget.report().ceiling);
  });

  it("a sender's lower ceiling leaves with it; a pace lowered by a 429 does not", () => {
    let now = 0;
    const budget = new RateBudget(6, () => now);
    budget.join(6)();
    const leave = budget.join(600);
    expect(budget.report()).toMatchObject({ pace: 10, ceiling: 10 });
    budget.answered(budget.tryAcquire()!, 'throttled');
    const lowered = budget.report().pace;
    expect(lowered).toBeLessThan(10);
    leave();
    budget.join(600);
    expect(budget.report().pace).toBe(lowered);
  });

  it('a few seconds in which Pinterest refuses every request cut the pace once, not once a second', () => {
    let now = 0;
    const budget = new RateBudget(6000, () => now);
    budget.join(6000);
    // Four batches out, refused; each retries a second later (Retry-After: 1), refused again, for 6 s.
    for (let second = 0; second < 6; second++) {
      const turns = Array.from({ length: 4 }, () => budget.tryAcquire() ?? { at: now, queued: true });
      now += 100;
      for (const turn of turns) budget.answered(turn, 'throttled');
      now += 900;
    }
    // The storm passes at a quarter of the pace at most, not at one request in 10 s.
    expect(budget.report().pace).toBeGreaterThanOrEqual(100 * 0.25);
  });

  it('a limit far under the pace, with some requests accepted, still brings the pace down to it', () => {
    let now = 0;
    const budget = new RateBudget(6000, () => now);
    budget.join(6000);
    // Pinterest takes 2 requests a second of the 20 sent, for 10 s.
    for (let second = 0; second < 10; second++) {
      for (let i = 0; i < 20; i++) {
        const turn = budget.tryAcquire() ?? { at: now, queued: true };
        budget.answered(turn, i < 2 ? 'accepted' : 'throttled');
        now += 50;
      }
    }
    expect(budget.report().pace).toBeLessThan(5);
  });

  it('a waiting request is served at the new pace as soon as a lower ceiling leaves', async () => {
    vi.useFakeTimers();
    let now = 0;
    const budget = new RateBudget(600, () => now);
    const leaveLow = budget.join(6);
    budget.join(600);
    budget.tryAcquire();
    let granted = false;
    // At one request in 10 s, its turn is 10 s away.
    void budget.acquire({}).then(() => (granted = true));
    now += 200;
    leaveLow();
    // Ten a second now: a turn within a tenth of a second, not at the old pace's 10 s.
    now += 100;
    await vi.advanceTimersByTimeAsync(100);
    expect(granted).toBe(true);
  });

  it('no timer is left armed once the last waiting request gives up (it would hold the process)', async () => {
    vi.useFakeTimers();
    const budget = new RateBudget(60, () => 0);
    budget.tryAcquire();
    const stop = new AbortController();
    const waiting = budget.acquire({}, stop.signal);
    expect(vi.getTimerCount()).toBe(1);
    stop.abort(new Error('the run failed elsewhere'));
    await expect(waiting).rejects.toThrow('the run failed elsewhere');
    expect(vi.getTimerCount()).toBe(0);
  });
});
