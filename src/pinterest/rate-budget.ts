// One pace of requests per ad account, shared by every sync of this process that sends to it
// (docs/adr/0014): a token bucket whose rate starts at destination.max_requests_per_minute,
// drops on a 429 to a little under what Pinterest was accepting, and climbs back slowly.
// Waiting requests are served in turn, one sync after the other, so no sync starves another.

/** The Conversions API's limit in Pinterest's OpenAPI description: 5,000 calls a minute per ad account. */
export const DEFAULT_REQUESTS_PER_MINUTE = 5_000;
/** Test requests (?test=true): 10 a second per app (developers.pinterest.com, rate limits). */
export const TEST_REQUESTS_PER_MINUTE = 600;

// A burst of at most a tenth of a second's worth: a larger one, saved up while batches wait out a
// Retry-After, goes over a per-second limit the pace itself keeps under.
const BURST_SECONDS = 0.1;
// After a 429: a little under the rate Pinterest took over the last second (anchored there,
// so that 429s in a row do not compound), never above the pace, and no lower than a quarter of it
// (a first 429 with nothing accepted yet is no reason to stop).
const ACCEPTED_WINDOW_MS = 1_000;
const UNDER_ACCEPTED = 0.9;
const PACE_FLOOR = 0.25;
// One cut per second: the 429s of one burst are one signal. And one per stretch of refusals: until
// Pinterest accepts a request again, more 429s say nothing new of its rate (docs/adr/0014).
const CUT_INTERVAL_MS = 1_000;
// Climbing back: 2% of the pace a second, at least 1% of the ceiling a second.
const CLIMB = 0.02;
const CLIMB_OF_CEILING = 0.01;
// ...but back to just under the rate taken when the last 429 came, it climbs five times faster:
// that rate was fine until then (CUBIC's climb is shaped the same way).
const QUICK_CLIMB = 0.1;
const QUICK_UP_TO = 0.97;
// Never slower than one request in 10 s, so a run keeps moving (and max_retry_time stays meaningful).
const SLOWEST = 0.1;

interface Waiter {
  grant: (at: number) => void;
}

/** A request's turn: when it was granted, and whether it had to wait for it. */
export interface Turn {
  readonly at: number;
  /** The budget, not the sender, set the pace. */
  readonly queued: boolean;
}

export interface BudgetReport {
  /** Requests a second the budget allows now. */
  pace: number;
  /** The ceiling, from destination.max_requests_per_minute (the lowest given). */
  ceiling: number;
  /** 429s answered to requests of this budget. */
  throttled: number;
}

export class RateBudget {
  private ceilings = new Map<symbol, number>();
  private ceilingPerSecond: number;
  private pace: number;
  private tokens: number;
  private refilledAt: number;
  private lastCutAt = -Infinity;
  private lastAcceptedAt = -Infinity;
  // What Pinterest took when the last 429 came (requests a second).
  private takenAtCut = 0;
  private throttledCount = 0;
  // When the turns of the last second were granted, less those answered 429: what Pinterest took
  // or is taking (a request in flight counts until its answer says otherwise).
  private readonly granted: number[] = [];
  // Waiting requests per sender; senders take turns.
  private readonly queues = new Map<object, Waiter[]>();
  private turn: object[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(perMinute: number, private readonly now: () => number = () => performance.now()) {
    this.ceilingPerSecond = perMinute / 60;
    this.pace = this.ceilingPerSecond;
    this.tokens = this.capacity;
    this.refilledAt = now();
  }

  /** A sender joins with its ceiling; the lowest ceiling of those joined holds. Returns its leave(). */
  join(perMinute: number): () => void {
    const key = Symbol('sender');
    this.ceilings.set(key, perMinute);
    this.updateCeiling();
    return () => {
      this.ceilings.delete(key);
      this.updateCeiling();
    };
  }

  /** A turn now, if one is free and nobody waits; otherwise nothing (then `acquire`). */
  tryAcquire(): Turn | undefined {
    this.refill();
    if (this.queues.size > 0 || this.tokens < 1) return undefined;
    this.tokens -= 1;
    return { at: this.grant(), queued: false };
  }

  /** Waits for a request's turn; `sender` identifies whose request (a sync's client), for fairness. */
  acquire(sender: object, signal?: AbortSignal): Promise<Turn> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const now = this.tryAcquire();
    if (now) return Promise.resolve(now);
    return new Promise<Turn>((resolve, reject) => {
      const waiter: Waiter = {
        grant: (at) => {
          signal?.removeEventListener('abort', onAbort);
          resolve({ at, queued: true });
        },
      };
      const onAbort = () => {
        const queue = this.queues.get(sender);
        const at = queue?.indexOf(waiter) ?? -1;
        if (at >= 0) queue!.splice(at, 1);
        if (queue?.length === 0) this.dropSender(sender);
        // Nobody left waiting: no timer either (it would hold a finished process open for up to 1/pace).
        if (this.turn.length === 0) this.stopTimer();
        reject(signal!.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const queue = this.queues.get(sender);
      if (queue) queue.push(waiter);
      else {
        this.queues.set(sender, [waiter]);
        this.turn.push(sender);
      }
      this.serve();
    });
  }

  /** The answer to a request granted `turn`: a 429 lowers the pace. */
  answered(turn: Turn, status: 'accepted' | 'throttled'): void {
    const now = this.now();
    if (status === 'accepted') {
      this.lastAcceptedAt = now;
      return;
    }
    this.throttledCount++;
    const refused = this.granted.lastIndexOf(turn.at);
    if (refused >= 0) this.granted.splice(refused, 1);
    // The same stretch of refusals: a turn granted since the last cut refused, none accepted since, the pace still lowered.
    const sameStretch = turn.at >= this.lastCutAt && this.lastAcceptedAt < this.lastCutAt && this.pace < this.ceilingPerSecond;
    if (now - this.lastCutAt < CUT_INTERVAL_MS || sameStretch) return;
    this.refill();
    this.lastCutAt = now;
    this.forgetBefore(now - ACCEPTED_WINDOW_MS);
    // Over the last second: a per-second limit shows over a second, and a longer span would
    // average in the slow start of a run (two seconds measured a 40/s limit as 26/s).
    const acceptedRate = this.granted.length / (ACCEPTED_WINDOW_MS / 1000);
    this.takenAtCut = acceptedRate;
    // SLOWEST is a floor, not a raise: a ceiling below it stays the ceiling.
    const slowest = Math.min(SLOWEST, this.ceilingPerSecond);
    this.pace = Math.max(slowest, Math.min(this.pace, Math.max(acceptedRate * UNDER_ACCEPTED, this.pace * PACE_FLOOR)));
    // The burst that drew the 429 is spent.
    this.tokens = Math.min(this.tokens, 0);
  }

  report(): BudgetReport {
    this.refill();
    return { pace: this.pace, ceiling: this.ceilingPerSecond, throttled: this.throttledCount };
  }

  private get capacity(): number {
    return Math.max(1, this.pace * BURST_SECONDS);
  }

  private updateCeiling(): void {
    if (this.ceilings.size === 0) return;
    this.refill();
    // A pace at the ceiling follows it (up too, when the sender with the lowest leaves); a pace
    // that 429s lowered keeps climbing back on its own.
    const atCeiling = this.pace >= this.ceilingPerSecond;
    this.ceilingPerSecond = Math.min(...this.ceilings.values()) / 60;
    this.pace = atCeiling ? this.ceilingPerSecond : Math.min(this.pace, this.ceilingPerSecond);
    // Waiting requests are timed at the new pace.
    if (this.timer) {
      this.stopTimer();
      this.serve();
    }
  }

  private stopTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private grant(): number {
    const at = this.now();
    this.granted.push(at);
    this.forgetBefore(at - ACCEPTED_WINDOW_MS);
    return at;
  }

  private forgetBefore(time: number): void {
    let drop = 0;
    while (drop < this.granted.length && this.granted[drop]! < time) drop++;
    if (drop > 0) this.granted.splice(0, drop);
  }

  /** Tokens since the last refill, and the pace climbing back towards the ceiling. */
  private refill(): void {
    const now = this.now();
    const seconds = Math.max(0, now - this.refilledAt) / 1000;
    this.refilledAt = now;
    if (this.pace < this.ceilingPerSecond) {
      const quick = this.pace < this.takenAtCut * QUICK_UP_TO;
      const climb = Math.max(this.pace * (quick ? QUICK_CLIMB : CLIMB), this.ceilingPerSecond * CLIMB_OF_CEILING) * seconds;
      this.pace = Math.min(this.ceilingPerSecond, this.pace + climb);
    }
    this.tokens = Math.min(this.capacity, this.tokens + this.pace * seconds);
  }

  private dropSender(sender: object): void {
    this.queues.delete(sender);
    this.turn = this.turn.filter((s) => s !== sender);
  }

  /** Grants tokens to the waiting requests, senders in turn; sleeps until the next token otherwise. */
  private serve(): void {
    this.refill();
    while (this.turn.length > 0 && this.tokens >= 1) {
      const sender = this.turn.shift()!;
      const queue = this.queues.get(sender)!;
      const waiter = queue.shift()!;
      if (queue.length > 0) this.turn.push(sender);
      else this.queues.delete(sender);
      this.tokens -= 1;
      waiter.grant(this.grant());
    }
    if (this.turn.length === 0 || this.timer) return;
    const wait = Math.ceil(((1 - this.tokens) / this.pace) * 1000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.serve();
    }, Math.max(1, wait));
  }
}

const budgets = new Map<string, RateBudget>();

/** This process's budget for one ad account at one API. */
export function sharedBudget(apiUrl: string, adAccountId: string, perMinute: number): RateBudget {
  const key = `${apiUrl} ${adAccountId}`;
  let budget = budgets.get(key);
  if (!budget) budgets.set(key, (budget = new RateBudget(perMinute)));
  return budget;
}
