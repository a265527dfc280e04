// The per-ad-account rate budget (issue 23) on fake timers: its clock is Date.now, which vitest's
// fake timers move, so the pace, the turns and the climb back are checked without waiting.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RateBudget, sharedBudget, type Turn } from '../../src/pinterest/rate-budget.js';

const now = () => Date.now();
/** A turn granted at `at` that the budget never gave (for a 429 of a request it does not know). */
const turnAt = (at = 0): Turn => ({ at, queued: false });

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Queues `count` requests of `sender`; each grant is recorded as [sender, time]. */
function queue(budget: RateBudget, sender: { name: string }, count: number, grants: [string, number][], signal?: AbortSignal): Promise<void>[] {
  return Array.from({ length: count }, () => budget.acquire(sender, signal).then(() => void grants.push([sender.name, Date.now()])));
}

/** The most grants within any `windowMs` (a window starting at each grant). */
function mostIn(times: number[], windowMs: number): number {
  return Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + windowMs).length));
}

/** Takes every token there is now, so that what follows waits for its turn. */
async function drain(budget: RateBudget): Promise<number> {
  let taken = 0;
  const other = { name: 'drain' };
  for (;;) {
    let granted = false;
    void budget.acquire(other).then(() => (granted = true));
    await Promise.resolve();
    if (!granted) {
      // That one waits in line: it has the next token, and the bucket is empty after it.
      while (!granted) await vi.advanceTimersByTimeAsync(1);
      return taken;
    }
    taken++;
  }
}

describe('RateBudget', () => {
  it('never grants more than the pace, plus a tenth of a second of burst, over any window', async () => {
    const budget = new RateBudget(600, now); // 10 a second
    const grants: [string, number][] = [];
    const start = Date.now();
    const all = [...queue(budget, { name: 'a' }, 60, grants), ...queue(budget, { name: 'b' }, 60, grants)];
    await vi.advanceTimersByTimeAsync(15_000);
    await Promise.all(all);
    const times = grants.map(([, t]) => t);
    for (const windowMs of [100, 500, 1_000, 3_000, 10_000]) {
      expect(mostIn(times, windowMs), `${windowMs} ms`).toBeLessThanOrEqual(Math.floor(10 * windowMs / 1000 + 1));
    }
    // And the pace is used: 1 at once, then 10 a second.
    expect(times.filter((t) => t < start + 10_000).length).toBeGreaterThanOrEqual(1 + 10 * 10 - 2);
  });

  it('serves two waiting senders in turn, even when one has ten times more requests waiting', async () => {
    const budget = new RateBudget(600, now);
    await drain(budget);
    const grants: [string, number][] = [];
    const busy = queue(budget, { name: 'busy' }, 30, grants);
    await vi.advanceTimersByTimeAsync(350);
    const before = grants.length;
    expect(before).toBeGreaterThan(0);
    const quiet = queue(budget, { name: 'quiet' }, 3, grants);
    await vi.advanceTimersByTimeAsync(10_000);
    await Promise.all([...busy, ...quiet]);
    const order = grants.map(([name]) => name);
    // The quiet sender came while the busy one had about 27 waiting: it has the next turn but
    // one, and every other turn after that.
    const first = order.indexOf('quiet');
    expect(first).toBeLessThanOrEqual(before + 1);
    expect(order.slice(first, first + 6)).toEqual(['quiet', 'busy', 'quiet', 'busy', 'quiet', 'busy']);
    expect(order.length).toBe(33);
  });

  it('an aborted wait rejects, leaves the line clean and keeps no timer', async () => {
    const budget = new RateBudget(600, now);
    await drain(budget);
    const grants: [string, number][] = [];
    const stop = new AbortController();
    const first = queue(budget, { name: 'a' }, 1, grants);
    const aborted = budget.acquire({ name: 'b' }, stop.signal);
    const third = queue(budget, { name: 'c' }, 1, grants);
    stop.abort(new Error('the run failed'));
    await expect(aborted).rejects.toThrow('the run failed');
    await vi.advanceTimersByTimeAsync(1_000);
    await Promise.all([...first, ...third]);
    expect(grants.map(([name]) => name)).toEqual(['a', 'c']);
    // The aborted request took no turn: 'c' came one turn after 'a', 100 ms at 10 a second.
    expect(grants[1]![1] - grants[0]![1]).toBe(100);
    expect(vi.getTimerCount()).toBe(0);

    // The only one waiting gives up: no timer is left to hold the process open.
    const alone = new AbortController();
    await drain(budget);
    const waiting = budget.acquire({ name: 'd' }, alone.signal);
    expect(vi.getTimerCount()).toBe(1);
    alone.abort(new Error('stopped'));
    await expect(waiting).rejects.toThrow('stopped');
    expect(vi.getTimerCount()).toBe(0);
    // Already aborted: rejected at once, no token taken.
    await expect(budget.acquire({ name: 'e' }, AbortSignal.abort(new Error('too late')))).rejects.toThrow('too late');
  });

  it('a 429 cuts the pace to 0.9x the turns Pinterest took over the last second, at most once a second', () => {
    let t = 0;
    const budget = new RateBudget(600, () => t); // 10 a second
    const turns: Turn[] = [];
    for (; t < 2_000; t += 200) turns.push(budget.tryAcquire()!); // 10 turns in 2 s
    expect(turns.every(Boolean)).toBe(true);
    budget.answered(turns.at(-1)!, 'throttled');
    // In the last second, 5 turns, less the refused one: 4 taken, less a tenth.
    expect(budget.report().pace).toBeCloseTo(0.9 * 4, 5);
    // More 429s of the same burst: one signal (the pace only climbs back, 10% a second towards what was taken).
    t += 500;
    budget.answered(turns.at(-2)!, 'throttled');
    expect(budget.report().pace).toBeCloseTo(3.6 * 1.05, 5);
    // A second after the cut: cut again, from what was taken since, but never below a quarter of the pace.
    t += 600;
    const before = budget.report().pace;
    budget.answered(turns.at(-3)!, 'throttled');
    expect(budget.report().pace).toBeLessThan(before);
    expect(budget.report().pace).toBeGreaterThanOrEqual(before / 4);
    expect(budget.report().throttled).toBe(3);
  });

  it('a 429 a second into a run measures what was taken over that second, not over 2 s it was not sending', () => {
    let t = 0;
    const budget = new RateBudget(1_200, () => t); // 20 a second
    const turns: Turn[] = [];
    for (; t < 1_000; t += 100) turns.push(budget.tryAcquire()!); // 10 in 1 s
    budget.answered(turns.at(-1)!, 'throttled');
    // 0.9 x 9 a second, not 0.9 x 4.5.
    expect(budget.report().pace).toBeCloseTo(0.9 * 9, 5);
    // After a pause of a minute the pace is back, and a new run counts from its own start again.
    t += 60_000;
    expect(budget.report().pace).toBe(20);
    const start = t;
    const later: Turn[] = [];
    for (; t < start + 1_000; t += 100) later.push(budget.tryAcquire()!);
    budget.answered(later.at(-1)!, 'throttled');
    expect(budget.report().pace).toBeCloseTo(0.9 * 9, 5);
  });

  it('a 429 of a request still in flight counts the others in flight as taken (their answers are not in yet)', () => {
    let t = 0;
    const budget = new RateBudget(6_000, () => t); // 100 a second
    const turns: Turn[] = [];
    // 40 turns within 400 ms, none answered yet (300 ms answers), then a 429 at once for the 41st.
    for (; turns.length < 41; t += 10) turns.push(budget.tryAcquire()!);
    budget.answered(turns.at(-1)!, 'throttled');
    // 40 over the one-second minimum: 36 a second, where answers alone (none yet) would say 0 and cut to a quarter.
    expect(budget.report().pace).toBeCloseTo(36, 5);
  });

  it('a first 429, with nothing taken yet, cuts to a quarter (another client is busy), not to a standstill', () => {
    const t = 0;
    const budget = new RateBudget(6_000, () => t);
    budget.answered(turnAt(), 'throttled');
    expect(budget.report().pace).toBeCloseTo(25, 5);
  });

  it('climbs back to the ceiling, and never above it', () => {
    let t = 0;
    const budget = new RateBudget(600, () => t);
    budget.answered(turnAt(), 'throttled');
    const paces: number[] = [];
    for (let s = 0; s < 120; s++) {
      t += 1_000;
      paces.push(budget.report().pace);
    }
    expect(paces[0]).toBeLessThan(3);
    expect(paces.every((pace, i) => i === 0 || pace >= paces[i - 1]!)).toBe(true);
    expect(paces.at(-1)).toBe(10);
    expect(Math.max(...paces)).toBe(10);
  });

  it('climbs 10% a second back to just under what was taken at the 429, then 2% a second (1% of the ceiling at least)', () => {
    let t = 0;
    const budget = new RateBudget(6_000, () => t); // 100 a second
    const turns: Turn[] = [];
    for (; t < 2_000; t += 10) turns.push(budget.tryAcquire()!); // 100 turns a second
    budget.answered(turns.at(-1)!, 'throttled');
    const taken = 99; // in the last second, less the refused one
    const cut = 0.9 * taken;
    expect(budget.report().pace).toBeCloseTo(cut, 5);
    // Quickly at first: 1% of the pace every 100 ms.
    for (let i = 0; i < 5; i++) {
      t += 100;
      budget.report();
    }
    expect(budget.report().pace).toBeCloseTo(cut * 1.01 ** 5, 5);
    // Past 0.97 of what was taken, slowly: 2% of 97 (1.94 a second) is more than 1% of the ceiling (1).
    while (budget.report().pace < 0.97 * taken) {
      t += 100;
    }
    const slow = budget.report().pace;
    t += 1_000;
    expect(budget.report().pace).toBeCloseTo(slow * 1.02, 5);
  });

  it('never slows to nothing: the pace stays above zero through 429 after 429, and a waiting request is served', async () => {
    const budget = new RateBudget(600, now);
    for (let i = 0; i < 50; i++) {
      budget.answered(turnAt(Date.now()), 'throttled');
      vi.setSystemTime(Date.now() + 1_000);
    }
    const { pace } = budget.report();
    expect(pace).toBeGreaterThan(0);
    expect(pace).toBeLessThanOrEqual(10);
    await drain(budget);
    let granted = false;
    void budget.acquire({}).then(() => (granted = true));
    await vi.advanceTimersByTimeAsync(15_000);
    expect(granted).toBe(true);
  });

  it('a ceiling below the slowest pace stays the ceiling after a 429', () => {
    let t = 0;
    const budget = new RateBudget(3, () => t); // one request in 20 s
    budget.answered(turnAt(), 'throttled');
    expect(budget.report().pace).toBeGreaterThan(0);
    expect(budget.report().pace).toBeLessThanOrEqual(3 / 60);
  });

  it('join: the lowest ceiling of the senders holds; leaving restores the others\' pace', async () => {
    const budget = new RateBudget(600, now);
    const leaveA = budget.join(600);
    const leaveB = budget.join(120);
    expect(budget.report()).toMatchObject({ ceiling: 2, pace: 2 });
    leaveB();
    expect(budget.report()).toMatchObject({ ceiling: 10, pace: 10 });
    // A pace that 429s lowered is not raised by a leave: it climbs back on its own.
    const leaveC = budget.join(300);
    budget.answered(turnAt(), 'throttled');
    const cut = budget.report().pace;
    expect(cut).toBeLessThan(5);
    leaveC();
    expect(budget.report().pace).toBeCloseTo(cut, 5);
    leaveA();
  });

  it('a request waiting at a low ceiling is timed again when that ceiling leaves', async () => {
    const budget = new RateBudget(600, now);
    budget.join(600);
    const leaveSlow = budget.join(6); // one request in 10 s
    await drain(budget);
    let granted = false;
    void budget.acquire({}).then(() => (granted = true));
    leaveSlow();
    await vi.advanceTimersByTimeAsync(500);
    expect(granted).toBe(true);
  });

  it('a lower ceiling joining a full budget allows no burst beyond its own tenth of a second', async () => {
    const budget = new RateBudget(6_000, now); // 100 a second: 10 at once
    budget.join(600);
    expect(await drain(budget)).toBeLessThanOrEqual(1);
  });

  it('sharedBudget gives one budget per API and ad account', () => {
    const a = sharedBudget('http://127.0.0.1:1/v5', 'acct-1', 600);
    expect(sharedBudget('http://127.0.0.1:1/v5', 'acct-1', 5_000)).toBe(a);
    expect(sharedBudget('http://127.0.0.1:1/v5', 'acct-2', 600)).not.toBe(a);
    expect(sharedBudget('http://127.0.0.1:1/v5?test=true', 'acct-1', 600)).not.toBe(a);
  });
});
