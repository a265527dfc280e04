// The concurrency controller (issue 23) on an injected clock: a small simulation stands in for
// the dispatcher (it refills every free slot after each answer, as dispatcher.ts does) and for
// Pinterest (each request answered after a latency, with a signal).
import { describe, expect, it } from 'vitest';
import { AdaptiveConcurrency, FixedConcurrency, type AnswerSignal, type Attempt, type ConcurrencyLimit } from '../../src/pinterest/concurrency.js';

class Clock {
  t = 0;
  readonly now = () => this.t;
}

interface Flight {
  attempt: Attempt;
  end: number;
  n: number;
}

interface Simulation {
  /** Answer time of the n-th request, knowing how many are in flight when it leaves. */
  latency?: (n: number, inFlight: number) => number;
  signal?: (n: number) => AnswerSignal;
  /** The sender has at most this many requests ready (the reader or the budget is the bottleneck). */
  ready?: number;
  /** Stop after this many answers. */
  answers: number;
}

/** Runs requests through `c` like the dispatcher: every free slot refilled after each answer. */
function simulate(c: ConcurrencyLimit, clock: Clock, sim: Simulation) {
  const flights: Flight[] = [];
  const seen = { mostInFlight: 0, limits: [] as number[], limitAt: [] as { t: number; limit: number }[] };
  let sent = 0;
  const fill = () => {
    while (flights.length < Math.min(c.limit, sim.ready ?? Infinity)) {
      const n = sent++;
      flights.push({ attempt: c.started(), end: clock.t + (sim.latency?.(n, flights.length + 1) ?? 100), n });
      seen.mostInFlight = Math.max(seen.mostInFlight, flights.length);
      // A request never leaves beyond the limit of the moment it leaves.
      expect(flights.length).toBeLessThanOrEqual(c.limit);
    }
  };
  fill();
  for (let answered = 0; answered < sim.answers; answered++) {
    flights.sort((a, b) => a.end - b.end);
    const next = flights.shift()!;
    clock.t = Math.max(clock.t, next.end);
    c.answered(next.attempt, sim.signal?.(next.n) ?? 'ok');
    seen.limits.push(c.limit);
    seen.limitAt.push({ t: clock.t, limit: c.limit });
    fill();
  }
  return seen;
}

/** The limit at the end of each round of `latency` ms (the answers of one round arrive together). */
function limitsPerRound(seen: { limitAt: { t: number; limit: number }[] }, latency: number, rounds: number): number[] {
  return Array.from({ length: rounds }, (_, r) => seen.limitAt.filter((x) => x.t <= (r + 1) * latency).at(-1)!.limit);
}

describe('AdaptiveConcurrency', () => {
  it('starts at 4 and doubles every round while every slot is in use (slow start), up to the cap', () => {
    const clock = new Clock();
    const c = new AdaptiveConcurrency(64, clock.now);
    expect(c.limit).toBe(4);
    const seen = simulate(c, clock, { latency: () => 200, answers: 400 });
    expect(limitsPerRound(seen, 200, 6)).toEqual([8, 16, 32, 64, 64, 64]);
    expect(Math.max(...seen.limits)).toBe(64);
    expect(seen.mostInFlight).toBe(64);
  });

  it('never goes above a small cap, and starts at the cap when it is below 4', () => {
    const clock = new Clock();
    const c = new AdaptiveConcurrency(6, clock.now);
    const seen = simulate(c, clock, { latency: () => 200, answers: 200 });
    expect(Math.max(...seen.limits)).toBe(6);
    expect(seen.mostInFlight).toBe(6);
    expect(new AdaptiveConcurrency(2, clock.now).limit).toBe(2);
  });

  it('does not grow while not every slot is in use (the reader or the budget is the bottleneck)', () => {
    const clock = new Clock();
    const c = new AdaptiveConcurrency(64, clock.now);
    const seen = simulate(c, clock, { latency: () => 200, ready: 3, answers: 300 });
    expect(Math.max(...seen.limits)).toBe(4);
    expect(c.report().max).toBe(4);
    // And it shrinks to what is used (3 at once), never below it: no batch held that is not sent.
    expect(seen.limits.at(-1)).toBe(3);
    expect(Math.min(...seen.limits)).toBe(3);
  });

  it('does not grow on answers to requests that waited for the rate budget (the budget sets the pace)', () => {
    const clock = new Clock();
    const c = new AdaptiveConcurrency(64, clock.now);
    for (let round = 0; round < 5; round++) {
      const flights = Array.from({ length: c.limit }, () => c.started({ queued: true, events: 1000 }));
      clock.t += 200;
      for (const attempt of flights) c.answered(attempt, 'ok');
    }
    expect(c.limit).toBe(4);
    expect(c.report().max).toBe(4);
  });

  it('counts a batch waiting to retry as holding its slot', () => {
    const clock = new Clock();
    const c = new AdaptiveConcurrency(64, clock.now);
    // 3 sending and 1 backing off after a 429 of an earlier round: every slot is taken.
    c.backingOff(true);
    const flights = Array.from({ length: 3 }, () => c.started());
    clock.t += 200;
    for (const attempt of flights) c.answered(attempt, 'ok');
    expect(c.limit).toBeGreaterThan(4);
  });

  it('cuts once per round however many 429s of that round arrive (x0.9), and again for a 429 of a later round', () => {
    const clock = new Clock();
    const c = new AdaptiveConcurrency(64, clock.now);
    simulate(c, clock, { latency: () => 100, answers: 4 }); // one round: 8
    expect(c.limit).toBe(8);
    const round = Array.from({ length: 8 }, () => c.started());
    clock.t += 100;
    for (const attempt of round) c.answered(attempt, 'throttled');
    expect(c.limit).toBe(7); // floor(8 * 0.9)
    // A request that left after the cut: its 429 is news.
    const later = c.started();
    clock.t += 100;
    c.answered(later, 'throttled');
    expect(c.limit).toBe(6); // floor(7.2 * 0.9)
    expect(c.report().throttled).toBe(9);
  });

  it('halves on overload (5xx, timeouts, network errors), once per round, never below 1', () => {
    const clock = new Clock();
    const c = new AdaptiveConcurrency(64, clock.now);
    simulate(c, clock, { latency: () => 100, answers: 12 }); // two rounds: 16
    expect(c.limit).toBe(16);
    const round = Array.from({ length: 16 }, () => c.started());
    for (const attempt of round) c.answered(attempt, 'overloaded');
    expect(c.limit).toBe(8);
    for (let i = 0; i < 10; i++) c.answered(c.started(), 'overloaded');
    expect(c.limit).toBe(1);
    const seen = simulate(c, clock, { signal: () => 'overloaded', answers: 50 });
    expect(Math.min(...seen.limits)).toBe(1);
    expect(c.report().throttled).toBe(0);
  });

  it('after a cut, grows by one a round (congestion avoidance), not by doubling', () => {
    const clock = new Clock();
    const c = new AdaptiveConcurrency(64, clock.now);
    simulate(c, clock, { latency: () => 100, answers: 12 }); // 16
    c.answered(c.started(), 'throttled'); // 14
    expect(c.limit).toBe(14);
    const seen = simulate(c, clock, { latency: () => 100, answers: 14 * 5 });
    // Five rounds of 14 to 19 answers: a few slots more, nowhere near 14 * 2^5.
    expect(c.limit).toBeGreaterThan(14);
    expect(c.limit).toBeLessThanOrEqual(19);
    expect(Math.max(...seen.limits)).toBeLessThanOrEqual(19);
  });

  it('grows when the answers are slow but steady (2 s each)', () => {
    const clock = new Clock();
    const c = new AdaptiveConcurrency(64, clock.now);
    simulate(c, clock, { latency: () => 2_000, answers: 200 });
    expect(c.limit).toBe(64);
  });

  it('does not cut on jitter of fast answers (a few ms)', () => {
    const clock = new Clock();
    const c = new AdaptiveConcurrency(64, clock.now);
    // 1 ms at best, up to 9 ms on a busy machine.
    const seen = simulate(c, clock, { latency: (n) => 1 + ((n * 7) % 9), answers: 400 });
    expect(seen.limits.every((limit, i) => i === 0 || limit >= seen.limits[i - 1]!)).toBe(true);
    expect(c.limit).toBe(64);
  });

  it('cuts (x0.9, once a round) when answers get much slower than the fastest: a queue is building', () => {
    const clock = new Clock();
    const c = new AdaptiveConcurrency(64, clock.now);
    let latency = 20;
    simulate(c, clock, { latency: () => latency, answers: 12 }); // 16, at 20 ms an answer
    // The requests that leave from now on take 400 ms (those under way still take 20 ms).
    latency = 400;
    const seen = simulate(c, clock, { latency: () => latency, answers: 80 });
    const peak = Math.max(...seen.limits);
    // At least two cuts, each about x0.9 of where it was (one per round, never two at once).
    const drops = seen.limits.filter((limit, i) => i > 0 && limit < seen.limits[i - 1]!);
    expect(drops.length).toBeGreaterThanOrEqual(2);
    seen.limits.forEach((limit, i) => {
      if (i > 0) expect(limit).toBeGreaterThanOrEqual(Math.floor(seen.limits[i - 1]! * 0.9));
    });
    expect(c.limit).toBeLessThanOrEqual(Math.floor(Math.floor(peak * 0.9) * 0.9));
    expect(peak).toBeLessThan(64);
  });

  it('one slow round cuts once: the late answers of requests sent before the cut do not cut again', () => {
    const clock = new Clock();
    const c = new AdaptiveConcurrency(8, clock.now);
    // Rounds of 100 ms answers with every slot in use: slow start up to the cap of 8.
    for (let r = 0; r < 3; r++) {
      const round = Array.from({ length: c.limit }, () => c.started());
      clock.t += 100;
      for (const attempt of round) c.answered(attempt, 'ok');
    }
    expect(c.limit).toBe(8);
    // A round of 8 answered in 500 ms: the guard cuts once, part-way through.
    const slow = Array.from({ length: 8 }, () => c.started());
    clock.t += 500;
    const limits = slow.map((attempt) => (c.answered(attempt, 'ok'), c.limit));
    expect(limits.at(-1)).toBe(7);
    expect(Math.min(...limits)).toBe(7);
    // The server is fast again: the rounds sent after the cut answer in 100 ms, and the slow
    // round's late answers do not count against them.
    for (let r = 0; r < 3; r++) {
      const round = Array.from({ length: c.limit }, () => c.started());
      clock.t += 100;
      for (const attempt of round) {
        c.answered(attempt, 'ok');
        expect(c.limit).toBeGreaterThanOrEqual(7);
      }
    }
  });

  it('a split half or a lone event answering fast does not lower the latency baseline', () => {
    const clock = new Clock();
    const c = new AdaptiveConcurrency(4, clock.now);
    // Full batches answer in 400 ms; a few single events in 20 ms.
    for (let r = 0; r < 3; r++) {
      const round = Array.from({ length: 4 }, () => c.started({ events: 1000 }));
      clock.t += 400;
      for (const attempt of round) c.answered(attempt, 'ok');
      const lone = c.started({ events: 1 });
      clock.t += 20;
      c.answered(lone, 'ok');
    }
    // Were 20 ms the baseline, 400 ms full batches would read as a queue (> 2 x 20 + 50) and cut.
    expect(c.limit).toBe(4);
  });

  it('reports the time-weighted median limit, the highest, the requests and the 429s', () => {
    const clock = new Clock();
    const c = new AdaptiveConcurrency(64, clock.now);
    clock.t = 5_000; // idle before the first request counts for nothing
    // 4 for 10 s (one round of 10 s answers), then 8 for 2 s, then 7 (a 429) for 3 s.
    simulate(c, clock, { latency: () => 10_000, answers: 4 });
    expect(c.limit).toBe(8);
    clock.t += 2_000;
    c.answered(c.started(), 'throttled');
    expect(c.limit).toBe(7);
    clock.t += 3_000;
    // 4 + 8 requests of the simulation, and the one answered 429.
    expect(c.report()).toEqual({ setting: 'auto', settled: 4, max: 8, requests: 13, throttled: 1 });
    // Much longer at 7: the median moves to 7.
    clock.t += 20_000;
    expect(c.report().settled).toBe(7);
    expect(c.report().max).toBe(8);
  });
});

describe('FixedConcurrency', () => {
  it('never moves, whatever the answers say, and still counts requests and 429s', () => {
    const clock = new Clock();
    const c = new FixedConcurrency(3, clock.now);
    const signals: AnswerSignal[] = ['ok', 'throttled', 'overloaded'];
    const seen = simulate(c, clock, { latency: (n) => (n % 2 ? 2_000 : 5), signal: (n) => signals[n % 3]!, answers: 90 });
    expect(new Set(seen.limits)).toEqual(new Set([3]));
    expect(seen.mostInFlight).toBe(3);
    expect(c.report()).toEqual({ setting: 3, settled: 3, max: 3, requests: 93, throttled: 30 });
  });
});

describe('AdaptiveConcurrency after one batch at a time', () => {
  it('doubles back up once batches are plenty again (the resends of a crashed run go one at a time)', () => {
    const clock = new Clock();
    const c = new AdaptiveConcurrency(64, clock.now);
    for (let i = 0; i < 20; i++) {
      const attempt = c.started();
      clock.t += 100;
      c.answered(attempt, 'ok');
    }
    expect(c.limit).toBeLessThanOrEqual(2);
    const limits: number[] = [];
    for (let r = 0; r < 5; r++) {
      const round = Array.from({ length: c.limit }, () => c.started());
      clock.t += 100;
      for (const attempt of round) c.answered(attempt, 'ok');
      limits.push(c.limit);
    }
    // Doubling every round (one more a round would be at 7 at most).
    limits.slice(1).forEach((limit, r) => expect(limit).toBe(2 * limits[r]!));
    expect(limits.at(-1)).toBeGreaterThanOrEqual(32);
  });
});
