// The Conversions API client: sends one batch, classifies every answer, retries what
// can be retried, and returns one result per event. The token is sent, never shown.
import type { Agent, Dispatcher } from 'undici';
import { loadUndici, type Undici } from '../core/undici.js';
import { AuthError, RetriesExhaustedError } from '../core/errors.js';
import { EncodedEvents } from '../core/encoded-events.js';
import { FixedConcurrency, type AnswerSignal, type ConcurrencyLimit } from './concurrency.js';
import type { RateBudget, Turn } from './rate-budget.js';
import { defaultSleep, describeNetworkError, durationText, messageOf, parseRetryAfter, type Answer } from './http.js';

export const DEFAULT_API_URL = 'https://api.pinterest.com/v5';

export type EventResult =
  | { status: 'processed'; warning?: string }
  | { status: 'failed'; error: string };

export interface ClientOptions {
  adAccountId: string;
  accessToken: string;
  /** API base, e.g. https://api.pinterest.com/v5 (PINTEREST_API_URL overrides it for tests). */
  apiUrl?: string;
  test?: boolean;
  userAgent: string;
  /** One request's whole answer, headers and body. */
  timeoutMs?: number;
  /** How long one batch may take, retrying 429, 5xx, malformed answers and network errors, the attempt in progress included. */
  maxRetryMs?: number;
  /** Batches the caller sends at most at once (destination.concurrency, or its cap); one keep-alive connection more is kept. */
  connections?: number;
  /** Told of every request and how it was answered (it sets how many batches the caller sends at once). */
  concurrency?: ConcurrencyLimit;
  /** The ad account's shared pace: every request, retries included, waits for its turn. */
  budget?: RateBudget;
  /** This sync's ceiling for the budget (destination.max_requests_per_minute); the lowest of the senders' holds. */
  requestsPerMinute?: number;
  /** Injected for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<unknown>;
  random?: () => number;
}

/** What an answer settles: a result per event, or the request refused as a whole. */
type Settled = { results: EventResult[]; refused?: undefined } | { results?: undefined; refused: Refusal };

interface Refusal {
  status: number;
  message: string;
}

export interface SendOptions {
  /**
   * When a batch refused whole with 400 has its probed events refused alike too, fail the run
   * at once (the request is most likely at fault), rather than isolate every bad event. Off for
   * a sync Pinterest has taken events from before: there it is the events, and failing on every
   * run would wedge the sync on them.
   */
  failFast?: boolean;
}

/** One batch as it is being sent: its parts and retries share one max_retry_time. */
interface BatchClock {
  started: number;
  deadline: number;
  signal?: AbortSignal;
  /** The last transient failure, to name when the budget runs out. */
  failure?: string;
  /** A batch whose probes are all refused alike fails the run (see SendOptions). */
  failFast: boolean;
  attempts: number;
}

const BACKOFF_BASE_MS = 500;
const DEFAULT_TIMEOUT_MS = 30_000;
const BACKOFF_CAP_MS = 30_000;
// No documented request limit either: 4 MiB is about 4x a full batch of typical (1 KB) events.
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
// Single events sent alone when a whole batch is refused with 400: all refused alike means the request is at fault.
const PROBES = 3;

/**
 * Per-event results from a 200 body (or a 422's details): one valid result for each event
 * sent, in order; anything else says what is wrong with it, and settles nothing.
 */
function perEventResults(body: unknown, count: number): EventResult[] | string {
  if (typeof body !== 'object' || body === null) return 'not a JSON object';
  const events = (body as { events?: unknown }).events;
  if (!Array.isArray(events)) return 'no events list';
  if (events.length !== count) return `${events.length} results for ${count} events`;
  const results: EventResult[] = [];
  for (const [i, e] of (events as { status?: unknown; error_message?: unknown; warning_message?: unknown }[]).entries()) {
    if (e?.status === 'processed') {
      results.push({ status: 'processed', ...(typeof e.warning_message === 'string' && e.warning_message ? { warning: e.warning_message } : {}) });
    } else if (e?.status === 'failed') {
      results.push({ status: 'failed', error: typeof e.error_message === 'string' && e.error_message ? e.error_message : 'failed without a message' });
    } else {
      return `result ${i + 1} has no status`;
    }
  }
  return results;
}

/** Events `indices` of `events`, in order. */
function pick(events: EncodedEvents, indices: readonly number[]): EncodedEvents {
  const part = new EncodedEvents();
  for (const k of indices) {
    const { page, row } = events.at(k);
    part.add(page, row);
  }
  return part;
}

export class PinterestClient {
  private dispatcher?: Agent;
  private closed = false;
  private readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<unknown>;
  private readonly random: () => number;
  private readonly leaveBudget: () => void;
  /** How many batches the caller may send at once: the option's, or a pinned 4. */
  readonly concurrency: ConcurrencyLimit;

  constructor(private readonly options: ClientOptions) {
    this.concurrency = options.concurrency ?? new FixedConcurrency(4);
    this.leaveBudget = options.budget && options.requestsPerMinute ? options.budget.join(options.requestsPerMinute) : () => undefined;
    const base = (options.apiUrl ?? DEFAULT_API_URL).replace(/\/+$/, '');
    this.url = `${base}/ad_accounts/${encodeURIComponent(options.adAccountId)}/events${options.test ? '?test=true' : ''}`;
    this.headers = {
      authorization: `Bearer ${options.accessToken}`,
      'content-type': 'application/json',
      'user-agent': options.userAgent,
    };
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
  }

  /**
   * Loads the HTTP client now, while a run waits for its first batch, not before the CLI can
   * start anything (docs/adr/0004-cli-bundle.md).
   */
  warmUp(): void {
    // Only a head start: a failure to load shows, and is reported, when the first batch loads it again.
    loadUndici().catch(() => undefined);
  }

  /**
   * Sends a batch; returns one result per event, in order. Throws AuthError, or
   * RetriesExhaustedError; `signal` cuts a retry wait short (the run has failed already).
   * The batch's parts, retries and the attempt in progress all end within max_retry_time.
   */
  async send(events: EncodedEvents, signal?: AbortSignal, options: SendOptions = {}): Promise<EventResult[]> {
    const started = Date.now();
    const clock: BatchClock = { started, deadline: started + this.budgetMs, attempts: 0, failFast: options.failFast ?? true, ...(signal ? { signal } : {}) };
    return this.sendPart(events, clock, true);
  }

  private get budgetMs(): number {
    return this.options.maxRetryMs ?? 600_000;
  }

  /** `whole`: not a part of a request refused whole (a probe there can tell the request at fault). */
  private async sendPart(events: EncodedEvents, clock: BatchClock, whole: boolean): Promise<EventResult[]> {
    const body = events.requestChunks();
    // Too large for one request: two, before Pinterest refuses it.
    if (events.length > 1 && body.length > MAX_REQUEST_BYTES) return this.halves(events, clock, whole);
    const settled = await this.postWithRetries(events.length, body, clock);
    if (settled.results) return settled.results;
    const { refused } = settled;
    if (events.length === 1) return [{ status: 'failed', error: `${refused.status}: ${refused.message}` }];
    if (whole && refused.status === 400 && events.length > PROBES) return this.probe(events, refused, clock);
    // The whole part was refused (400, 413, or 422 without detail): halve it until the bad events stand alone.
    return this.halves(events, clock, false);
  }

  private async halves(events: EncodedEvents, clock: BatchClock, whole: boolean): Promise<EventResult[]> {
    const middle = Math.ceil(events.length / 2);
    const left = await this.sendPart(events.slice(0, middle), clock, whole);
    const right = await this.sendPart(events.slice(middle), clock, whole);
    return [...left, ...right];
  }

  /**
   * A batch refused whole with 400: a few events alone first, spread over it. Refused alike,
   * the request (or every event) is at fault, and halving would send 2n - 1 requests to reject
   * them all: the run fails instead (unless failFast is off). Otherwise the rest is halved until
   * the bad events stand alone.
   */
  private async probe(events: EncodedEvents, refused: Refusal, clock: BatchClock): Promise<EventResult[]> {
    const n = events.length;
    const probes = [...new Set([0, Math.floor(n / 2), n - 1])];
    const results = new Array<EventResult>(n);
    let alike = true;
    for (const k of probes) {
      const settled = await this.postWithRetries(1, pick(events, [k]).requestChunks(), clock);
      const same = settled.refused?.status === refused.status && settled.refused.message === refused.message;
      alike &&= same;
      results[k] = settled.results?.[0] ?? { status: 'failed', error: `${settled.refused!.status}: ${settled.refused!.message}` };
    }
    if (alike && clock.failFast) {
      throw new RetriesExhaustedError(`Pinterest refused a batch of ${n} events with 400 (${refused.message}), and each of ${probes.length} of its events sent alone, so the request or every event is at fault, not one event: check the events \`pinsync preview\` shows (the next run resends this batch)`);
    }
    const rest = Array.from({ length: n }, (_, k) => k).filter((k) => !probes.includes(k));
    const restResults = await this.sendPart(pick(events, rest), clock, false);
    rest.forEach((k, i) => (results[k] = restResults[i]!));
    return results;
  }

  /** Posts until the answer settles the events or refuses them; retries what is transient. */
  private async postWithRetries(count: number, body: { chunks: Uint8Array[]; length: number }, clock: BatchClock): Promise<Settled> {
    // Before the retries: a broken install is not a network error, and fails at once.
    const { Agent, request } = await loadUndici();
    if (this.closed) throw new Error('the Pinterest client was closed');
    // Keep-alive connections: one per batch in flight, and one more. A batch sent as another's
    // answer arrives could otherwise find every connection still marked busy and wait in
    // undici's queue for the next answer (ms at a time); the run still sends no more than
    // `connections` batches at once.
    const dispatcher = (this.dispatcher ??= new Agent({ connections: (this.options.connections ?? 8) + 1, keepAliveTimeout: 30_000, pipelining: 1 }));
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    for (let attempt = 0; ; attempt++) {
      let left = clock.deadline - Date.now();
      if (left <= 0) throw this.exhausted(clock);
      let turn: Turn | undefined;
      if (this.options.budget) {
        turn = await this.takeTurn(this.options.budget, clock, left);
        left = clock.deadline - Date.now();
        if (left <= 0) throw this.exhausted(clock);
      }
      let answer: Answer | undefined;
      let failure: string;
      // What the answer says about the load, for the concurrency and the pace: a failure to get one is overload.
      let load: AnswerSignal = 'overloaded';
      const inFlight = this.concurrency.started({ queued: turn?.queued ?? false, events: count });
      // destination.timeout bounds the whole answer, headers and body (undici's own timeouts
      // are per gap: a byte every few seconds would hold them off for ever); max_retry_time
      // bounds it too, so a late attempt cannot outlast the batch's budget.
      const cutByBudget = left < timeoutMs;
      const attemptSignal = AbortSignal.timeout(Math.min(timeoutMs, left));
      try {
        clock.attempts++;
        answer = await this.post(body, request, dispatcher, attemptSignal);
        load = answer.status === 429 ? 'throttled' : answer.status === 408 || answer.status >= 500 ? 'overloaded' : 'ok';
        if (answer.status === 401) {
          throw new AuthError(`Pinterest refused the access token (401: ${messageOf(answer)}). Check destination.access_token: it must be a current conversion access token for this ad account.`);
        }
        if (answer.status === 403) {
          throw new AuthError(`Pinterest denied access to ad account ${this.options.adAccountId} (403: ${messageOf(answer)}). Check destination.ad_account_id, and that the token's user has an Admin, Analyst, Audience or Campaign role on it.`);
        }
        if (answer.status >= 200 && answer.status < 300) {
          // Only a result for every event settles them; anything else is retried like a 5xx.
          const results = perEventResults(answer.body, count);
          if (typeof results !== 'string') return { results };
          load = 'overloaded';
          failure = `${answer.status} without a result for every event (${answer.text !== undefined ? messageOf(answer) : results})`;
        } else if (answer.status === 422) {
          const results = perEventResults((answer.body as { details?: unknown } | null)?.details, count);
          if (typeof results !== 'string') return { results };
          return { refused: { status: 422, message: messageOf(answer) } };
        } else if (answer.status === 400 || answer.status === 413) {
          return { refused: { status: answer.status, message: messageOf(answer) } };
        } else if (answer.status === 429 || answer.status === 408 || answer.status >= 500) {
          failure = `${answer.status}: ${messageOf(answer)}`;
        } else {
          throw new RetriesExhaustedError(`Pinterest answered ${answer.status}: ${messageOf(answer)}`);
        }
      } catch (error) {
        if (error instanceof AuthError || error instanceof RetriesExhaustedError) throw error;
        // A body that does not add up to its content-length is pinsync's own mistake: sending it
        // again cannot help, and retrying would hide it for as long as max_retry_time.
        if ((error as { code?: string }).code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') {
          throw new Error(`pinsync built a request body that does not match its length (${(error as Error).message}); this is a bug, please report it`);
        }
        failure = attemptSignal.aborted
          ? cutByBudget
            ? `network error: no answer before destination.max_retry_time (${durationText(this.budgetMs)}) ran out`
            : `network error: no answer within ${timeoutMs / 1000}s (destination.timeout)`
          : `network error: ${describeNetworkError(error as Error & { code?: string }, timeoutMs)}`;
      } finally {
        this.concurrency.answered(inFlight, load);
        // A 5xx, a timeout or a lost connection is neither accepted nor refused for the rate limit.
        if (turn && load !== 'overloaded') this.options.budget!.answered(turn, load === 'throttled' ? 'throttled' : 'accepted');
      }
      clock.failure = failure;
      const rest = clock.deadline - Date.now();
      if (answer?.retryAfterMs !== undefined && answer.retryAfterMs > rest) {
        const allows = answer.retryAfterMs > this.budgetMs ? 'allows' : 'has left for this batch';
        throw new RetriesExhaustedError(`Pinterest asked to wait ${Math.ceil(answer.retryAfterMs / 1000)}s (Retry-After, after ${failure}), longer than destination.max_retry_time (${durationText(this.budgetMs)}) ${allows}; the run stopped and the next run resends this batch`);
      }
      const backoff = this.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
      const wait = Math.max(answer?.retryAfterMs ?? 0, backoff);
      if (wait >= rest || clock.signal?.aborted) throw this.exhausted(clock);
      this.concurrency.backingOff(true);
      try {
        await this.sleep(wait, clock.signal);
      } catch {
        throw new RetriesExhaustedError(`stopped retrying (last: ${failure}): the run failed elsewhere`);
      } finally {
        this.concurrency.backingOff(false);
      }
    }
  }

  /** Waits for the ad account's pace; the wait counts towards max_retry_time. */
  private async takeTurn(budget: RateBudget, clock: BatchClock, left: number): Promise<Turn> {
    // Most turns are free at once: no timer for them.
    const free = budget.tryAcquire();
    if (free) return free;
    const signals = [AbortSignal.timeout(left), ...(clock.signal ? [clock.signal] : [])];
    try {
      return await budget.acquire(this, AbortSignal.any(signals));
    } catch {
      if (clock.signal?.aborted) throw new RetriesExhaustedError(`stopped waiting to send${clock.failure ? ` (last: ${clock.failure})` : ''}: the run failed elsewhere`);
      const last = clock.failure ? ` (last: ${clock.failure})` : '';
      throw new RetriesExhaustedError(`the batch ran out of destination.max_retry_time (${durationText(this.budgetMs)}) waiting for its turn in this ad account's request budget (destination.max_requests_per_minute, lowered after 429s)${last}; the next run resends it`);
    }
  }

  private exhausted(clock: BatchClock): RetriesExhaustedError {
    const seconds = Math.round((Date.now() - clock.started) / 1000);
    if (!clock.failure) {
      return new RetriesExhaustedError(`the batch's requests took longer than destination.max_retry_time (${durationText(this.budgetMs)}) allows; the next run resends this batch`);
    }
    return new RetriesExhaustedError(`Pinterest kept failing for ${seconds}s (last: ${clock.failure}); gave up after ${clock.attempts} attempts`);
  }

  private async post(body: { chunks: Uint8Array[]; length: number }, request: Undici['request'], dispatcher: Agent, signal: AbortSignal): Promise<Answer> {
    const timeout = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // The pieces are written in order under one content-length; an array can be sent again on
    // a retry. undici documents iterable bodies (docs/api/Dispatcher.md), its types omit them.
    const chunks = body.chunks as Iterable<Uint8Array> as Dispatcher.DispatchOptions['body'];
    const response: Dispatcher.ResponseData = await request(this.url, {
      method: 'POST', headers: { ...this.headers, 'content-length': String(body.length) }, body: chunks, dispatcher,
      headersTimeout: timeout, bodyTimeout: timeout, signal,
    });
    const text = await response.body.text();
    const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
    const answer: Answer = { status: response.statusCode, body: null, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    try {
      answer.body = JSON.parse(text);
    } catch {
      answer.text = text;
    }
    return answer;
  }

  async close(): Promise<void> {
    if (!this.closed) this.leaveBudget();
    this.closed = true;
    await this.dispatcher?.close();
  }
}
