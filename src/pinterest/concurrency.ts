// How many requests one sync keeps in flight: a pinned number, or `auto` (docs/adr/0014).
// `auto` is AIMD with slow start and a latency guard: grow while every slot is in use and the
// answers are healthy; cut on 429, on 5xx / timeouts / network errors, and when answers take
// much longer than the fastest ones seen.

/** What one answer says about the load: healthy, rate-limited (429), or overloaded (5xx, 408, timeout, network). */
export type AnswerSignal = 'ok' | 'throttled' | 'overloaded';

/** One request in flight, from `started()` to `answered()`. */
export interface Attempt {
  readonly startedAt: number;
  /** Which cut was the last when the request left: one cut per round of requests, not per answer. */
  readonly epoch: number;
  /** The limit when it left. */
  readonly limitAtStart: number;
  /** The most requests in flight at once while it was. */
  peak: number;
  /** It waited for the rate budget before leaving: the budget set the pace, not the window. */
  readonly queued: boolean;
  /** Events in the request: a part of a split batch answers faster, and says nothing of the queue. */
  readonly events: number;
}

/** What a run reports about its sending. */
export interface ConcurrencyReport {
  /** `auto`, or the pinned number. */
  setting: 'auto' | number;
  /** Where the limit spent most of the sending time (the time-weighted median). */
  settled: number;
  /** The highest limit reached. */
  max: number;
  /** Requests sent, retries and splits included. */
  requests: number;
  /** Requests Pinterest answered with 429. */
  throttled: number;
}

export interface ConcurrencyLimit {
  /** Requests the sync may have in flight now (whole batches; at least 1). */
  readonly limit: number;
  /**
   * Batches between the checkpoint and the reader at most (sending, backing off, or answered and
   * waiting for an earlier one to commit): what a crash can leave to resend, and what memory holds.
   */
  readonly cap: number;
  /** A request of `events` events leaves; `queued`: it waited for the rate budget first. */
  started(options?: { queued?: boolean; events?: number }): Attempt;
  answered(attempt: Attempt, signal: AnswerSignal): void;
  /** A batch waits to retry (`true`), or is done waiting (`false`): it still holds its slot. */
  backingOff(waiting: boolean): void;
  report(): ConcurrencyReport;
}

export const AUTO_START = 4;
// Multiplicative cuts: a 429 is a budget reached (the pace cuts too, see rate-budget.ts); a 5xx or a timeout is a server in trouble.
const THROTTLED_CUT = 0.9;
const OVERLOADED_CUT = 0.5;
const LATENCY_CUT = 0.9;
// Latency guard: the recent answer time against the fastest seen, with an allowance so that
// jitter on fast answers (a few ms on a busy machine) is not read as a queue.
const LATENCY_TOLERANCE = 2;
const LATENCY_SLACK_MS = 50;
const RECENT_WEIGHT = 0.1;
// The baseline follows a lasting change of latency slowly (about 100 answers).
const BASELINE_DRIFT = 0.01;

/** Counts requests and 429s, and how long the limit stayed at each value. */
class Tally {
  requests = 0;
  throttled = 0;
  max: number;
  private readonly timeAt = new Map<number, number>();
  private since: number | undefined;
  private current: number;

  constructor(limit: number, private readonly now: () => number) {
    this.current = limit;
    this.max = limit;
  }

  /** The limit becomes `limit` now (counted from the first request: idle time before it says nothing). */
  at(limit: number): void {
    const now = this.now();
    if (this.since !== undefined) this.timeAt.set(this.current, (this.timeAt.get(this.current) ?? 0) + now - this.since);
    this.since = now;
    this.current = limit;
    this.max = Math.max(this.max, limit);
  }

  settled(): number {
    this.at(this.current);
    const spans = [...this.timeAt].sort((a, b) => a[0] - b[0]);
    const total = spans.reduce((sum, [, ms]) => sum + ms, 0);
    let sum = 0;
    for (const [limit, ms] of spans) {
      sum += ms;
      if (sum * 2 >= total && total > 0) return limit;
    }
    return this.current;
  }
}

export class FixedConcurrency implements ConcurrencyLimit {
  private readonly tally: Tally;

  constructor(readonly limit: number, now: () => number = Date.now) {
    this.tally = new Tally(limit, now);
  }

  get cap(): number {
    return this.limit;
  }

  started(): Attempt {
    this.tally.requests++;
    return { startedAt: 0, epoch: 0, limitAtStart: this.limit, peak: 0, queued: false, events: 0 };
  }

  answered(_attempt: Attempt, signal: AnswerSignal): void {
    if (signal === 'throttled') this.tally.throttled++;
  }

  backingOff(): void {}

  report(): ConcurrencyReport {
    return { setting: this.limit, settled: this.limit, max: this.limit, requests: this.tally.requests, throttled: this.tally.throttled };
  }
}

export class AdaptiveConcurrency implements ConcurrencyLimit {
  private window: number;
  private readonly inFlight = new Set<Attempt>();
  // Batches between a failed attempt and their retry: their slots are taken, not free.
  private waiting = 0;
  private largest = 0;
  private slowStart = true;
  private epoch = 0;
  private baselineMs: number | undefined;
  private recentMs: number | undefined;
  private readonly tally: Tally;

  constructor(readonly cap: number, private readonly now: () => number = () => performance.now()) {
    this.window = Math.min(AUTO_START, cap);
    this.tally = new Tally(this.limit, now);
  }

  get limit(): number {
    return Math.max(1, Math.floor(this.window));
  }

  started({ queued = false, events = 1 }: { queued?: boolean; events?: number } = {}): Attempt {
    this.tally.requests++;
    if (this.tally.requests === 1) this.tally.at(this.limit);
    this.largest = Math.max(this.largest, events);
    const attempt: Attempt = { startedAt: this.now(), epoch: this.epoch, limitAtStart: this.limit, peak: 0, queued, events };
    this.inFlight.add(attempt);
    this.notePeak();
    return attempt;
  }

  backingOff(waiting: boolean): void {
    this.waiting = Math.max(0, this.waiting + (waiting ? 1 : -1));
    if (waiting) this.notePeak();
  }

  private notePeak(): void {
    const taken = this.inFlight.size + this.waiting;
    for (const attempt of this.inFlight) attempt.peak = Math.max(attempt.peak, taken);
  }

  answered(attempt: Attempt, signal: AnswerSignal): void {
    // Every slot was taken (sending, or waiting to retry) at some point while this request was
    // out, and it did not wait for the rate budget: the sync could send more (it is not waiting
    // on its reader or on the budget). Answers of one round arrive together, before the slots
    // refill: the peak, not the moment, says whether they were used.
    const inUse = attempt.peak >= attempt.limitAtStart && !attempt.queued;
    this.inFlight.delete(attempt);
    if (signal === 'throttled') this.tally.throttled++;
    // A cut answers a round of requests once: the answers to requests sent before it say nothing new.
    const fresh = attempt.epoch === this.epoch;
    if (signal !== 'ok') {
      if (fresh) this.cut(signal === 'throttled' ? THROTTLED_CUT : OVERLOADED_CUT);
      return;
    }
    // Only requests of about a full batch measure the latency: a half or a single event alone is faster.
    if (attempt.events * 2 < this.largest) return;
    const ms = this.now() - attempt.startedAt;
    const baselineMs = (this.baselineMs = this.baselineMs === undefined ? ms : Math.min(ms, this.baselineMs + (ms - this.baselineMs) * BASELINE_DRIFT));
    const slow = (value: number) => value > baselineMs * LATENCY_TOLERANCE + LATENCY_SLACK_MS;
    if (fresh) {
      this.recentMs = this.recentMs === undefined ? ms : this.recentMs + (ms - this.recentMs) * RECENT_WEIGHT;
      if (slow(this.recentMs)) {
        this.cut(LATENCY_CUT);
        return;
      }
    } else if (slow(ms)) {
      // A late answer of a round already cut: no growth on it, and no say in the next round's
      // latency (it would start the recent average slow, and cut that round at its first answer).
      return;
    }
    if (inUse) {
      // Slow start doubles the window every round; after it, one more a round.
      this.window = Math.min(this.cap, this.window + (this.slowStart ? 1 : 1 / this.window));
    } else {
      // The reader or the budget sets the pace, not the window: the window shrinks by one a
      // round towards what is used (RFC 7661 does the same for TCP), so it holds no batches it
      // does not use and reports the concurrency the run really had.
      // Towards the peak, never up to it: the peak of a request sent before a cut would undo the cut.
      this.window = Math.min(this.window, Math.max(attempt.peak, 1, this.window - 1 / this.window));
      // Slow start is over, unless one batch at a time was all that was used: after such a
      // stretch (the resends of a crashed run) it doubles back up, like TCP after idling.
      this.slowStart = attempt.peak <= 1;
    }
    this.tally.at(this.limit);
  }

  report(): ConcurrencyReport {
    return { setting: 'auto', settled: this.tally.settled(), max: this.tally.max, requests: this.tally.requests, throttled: this.tally.throttled };
  }

  private cut(factor: number): void {
    this.slowStart = false;
    this.window = Math.max(1, this.window * factor);
    this.epoch++;
    // The recent latency starts again from the next answers, so one slow round cuts once.
    this.recentMs = undefined;
    this.tally.at(this.limit);
  }
}
