// A fake Pinterest Conversions API on 127.0.0.1 that answers like the real one: it checks
// the token, the ad account and every event against the event schema, answers per-event
// results, and can be told to fail in each documented way.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { conversionEventSchema } from '../../src/core/event-schema.js';

export interface Scripted {
  status: number;
  body?: unknown;
  retryAfter?: string;
  /** Sent as is (an HTML page, a cut-off body) instead of the JSON body. */
  raw?: string;
  /** Headers now, then one byte of body every `dripMs` milliseconds, never done. */
  dripMs?: number;
}

export class FakePinterest {
  readonly token: string;
  readonly adAccountId: string;
  private server?: Server;
  url = '';
  /** Processed deliveries per event_id (test requests excluded). */
  readonly delivered = new Map<string, number>();
  readonly testDelivered = new Map<string, number>();
  requests = 0;
  readonly userAgents = new Set<string>();
  /** Events answered with status failed, and their message. */
  readonly failEvents = new Map<string, string>();
  /** Answer per-event failures as a 422 (as the API does when not all events were processed). */
  failuresAs422 = false;
  /** A batch holding one of these is refused whole with a 400. */
  readonly badRequestEvents = new Set<string>();
  /** Answers used, in order, before normal processing. */
  readonly script: Scripted[] = [];
  /** Answer every request with this (after the script runs out). */
  always?: Scripted;
  latencyMs = 0;
  largestBatch = 0;
  /** Request bodies of event posts, as received. */
  readonly bodies: string[] = [];
  /** After this many requests, answer 503 to every request. */
  failAfterRequests?: number;
  /** A batch holding one of these events is answered only after this many more milliseconds. */
  readonly slowEvents = new Map<string, number>();
  /** A batch holding one of these is refused whole with a 413, even alone. */
  readonly tooLargeEvents = new Set<string>();
  /** Rewrites the body of a 200 after processing (the events count as delivered): a malformed answer. */
  mangle?: (body: { num_events_received: number; num_events_processed: number; events: unknown[] }) => unknown;
  /** Dripped answers still open. */
  dripping = 0;
  /** Ad accounts besides `adAccountId` the token may send to (not cleared by reset). */
  readonly moreAdAccounts = new Set<string>();
  /**
   * Requests a second per ad account (a sliding second): above it, 429 with Retry-After
   * (`rateLimitRetryAfter`, in seconds), answered at once, like Pinterest's limiter.
   */
  rateLimit?: number;
  rateLimitRetryAfter = '1';
  /** Requests answered 429 by the rate limit or the script, since the last reset. */
  throttled = 0;
  /** When each event post arrived (ms, performance.now()), and which of them the rate limit let through. */
  readonly arrivals: number[] = [];
  readonly acceptedArrivals: number[] = [];
  private readonly admitted = new Map<string, number[]>();

  constructor(options: { token?: string; adAccountId?: string } = {}) {
    this.token = options.token ?? 'pina_test_token';
    this.adAccountId = options.adAccountId ?? '549757463328';
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v5`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  reset(): void {
    this.delivered.clear();
    this.testDelivered.clear();
    this.failEvents.clear();
    this.badRequestEvents.clear();
    this.slowEvents.clear();
    this.tooLargeEvents.clear();
    this.mangle = undefined;
    this.script.length = 0;
    this.always = undefined;
    this.failuresAs422 = false;
    this.latencyMs = 0;
    this.failAfterRequests = undefined;
    this.requests = 0;
    this.largestBatch = 0;
    this.mostPending = 0;
    this.bodies.length = 0;
    this.rateLimit = undefined;
    this.rateLimitRetryAfter = '1';
    this.throttled = 0;
    this.arrivals.length = 0;
    this.acceptedArrivals.length = 0;
    this.admitted.clear();
  }

  /** The most event posts that arrived within any `windowMs` (all of them, or those the rate limit let through). */
  mostArrivedWithin(windowMs: number, which: 'all' | 'accepted' = 'all'): number {
    const times = which === 'all' ? this.arrivals : this.acceptedArrivals;
    let most = 0;
    for (let i = 0, j = 0; j < times.length; j++) {
      while (times[j]! - times[i]! >= windowMs) i++;
      most = Math.max(most, j - i + 1);
    }
    return most;
  }

  /** event_ids delivered more than once. */
  duplicates(): string[] {
    return [...this.delivered].filter(([, n]) => n > 1).map(([id]) => id);
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }

  private pending = 0;
  /** The most requests open at once (received, not yet answered) since the last reset. */
  mostPending = 0;

  /**
   * Resolves once `count` distinct events have been delivered, to stop a run part-way; fails
   * if `ended` (the run's exit) comes first: the run finished before it could be stopped.
   */
  async deliveredAtLeast(count: number, ended: Promise<unknown>): Promise<void> {
    let over = false;
    void ended.then(() => (over = true));
    while (this.delivered.size < count) {
      if (over) throw new Error('the run ended before it could be stopped');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Resolves once no request is being answered (a killed client's request may still be). */
  async idle(): Promise<void> {
    while (this.pending > 0) await new Promise((r) => setTimeout(r, 20));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.pending++;
    this.mostPending = Math.max(this.mostPending, this.pending);
    try {
      await this.answer(req, res);
    } catch (error) {
      // A client killed while it sent a body (a test's SIGKILL): nobody is left to answer.
      if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') throw error;
    } finally {
      this.pending--;
    }
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    this.requests++;
    this.userAgents.add(String(req.headers['user-agent']));
    if (this.limited(req.url)) {
      this.throttled++;
      return this.send(res, 429, { code: 8, message: 'You have exceeded your rate limit. Try again later.' }, { 'retry-after': this.rateLimitRetryAfter });
    }
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    const url = new URL(req.url ?? '/', 'http://x');
    const match = /^\/v5\/ad_accounts\/([^/]+)\/events$/.exec(url.pathname);
    if (req.method !== 'POST' || !match) return this.send(res, 404, { code: 404, message: 'Not found' });
    if (req.headers.authorization !== `Bearer ${this.token}`) return this.send(res, 401, { code: 2, message: 'Authentication failed.' });
    if (match[1] !== this.adAccountId && !this.moreAdAccounts.has(match[1]!)) return this.send(res, 403, { code: 29, message: 'You are not permitted to access that resource.' });
    if (this.failAfterRequests !== undefined && this.requests > this.failAfterRequests) {
      return this.send(res, 503, { code: 4197, message: 'The endpoint has been ramped down and is currently not accepting any traffic.' });
    }
    const scripted = this.script.shift() ?? this.always;
    if (scripted?.dripMs !== undefined) return this.drip(res, scripted.dripMs);
    if (scripted?.raw !== undefined) {
      res.writeHead(scripted.status, { 'content-type': 'text/html' });
      res.end(scripted.raw);
      return;
    }
    if (scripted) {
      if (scripted.status === 429) this.throttled++;
      return this.send(res, scripted.status, scripted.body ?? { code: scripted.status, message: `scripted ${scripted.status}` },
        scripted.retryAfter ? { 'retry-after': scripted.retryAfter } : {});
    }
    let data: unknown[];
    const text = Buffer.concat(chunks).toString('utf8');
    this.bodies.push(text);
    try {
      data = (JSON.parse(text) as { data: unknown[] }).data;
      if (!Array.isArray(data) || data.length === 0 || data.length > 1000) throw new Error('bad data');
    } catch {
      return this.send(res, 400, { code: 4196, message: 'The request was invalid.' });
    }
    this.largestBatch = Math.max(this.largestBatch, data.length);
    const ids = data.map((e) => String((e as { event_id?: unknown }).event_id));
    const slow = Math.max(0, ...ids.map((id) => this.slowEvents.get(id) ?? 0));
    if (slow > 0) await new Promise((r) => setTimeout(r, slow));
    if (ids.some((id) => this.badRequestEvents.has(id))) return this.send(res, 400, { code: 4196, message: 'The request was invalid.' });
    if (ids.some((id) => this.tooLargeEvents.has(id))) return this.send(res, 413, { code: 413, message: 'Request entity too large.' });
    const test = url.searchParams.get('test') === 'true';
    const events = data.map((event, i) => {
      const id = ids[i]!;
      const parsed = conversionEventSchema.safeParse(event);
      if (!parsed.success) return { status: 'failed', error_message: `invalid event: ${parsed.error.issues[0]?.message}`, warning_message: null };
      const failure = this.failEvents.get(id);
      if (failure) return { status: 'failed', error_message: failure, warning_message: null };
      const ledger = test ? this.testDelivered : this.delivered;
      ledger.set(id, (ledger.get(id) ?? 0) + 1);
      return { status: 'processed', error_message: null, warning_message: null };
    });
    const processed = events.filter((e) => e.status === 'processed').length;
    const body = { num_events_received: data.length, num_events_processed: processed, events };
    if (this.failuresAs422 && processed < data.length) {
      return this.send(res, 422, { code: 4198, message: 'Not all events were successfully processed.', details: body });
    }
    this.send(res, 200, this.mangle ? this.mangle(body) : body);
  }

  /** Counts an event post's arrival; true when it is over the ad account's rate limit (sliding second). */
  private limited(path: string | undefined): boolean {
    const account = /^\/v5\/ad_accounts\/([^/?]+)\/events/.exec(path ?? '')?.[1];
    if (account === undefined) return false;
    const now = performance.now();
    this.arrivals.push(now);
    if (this.rateLimit === undefined) {
      this.acceptedArrivals.push(now);
      return false;
    }
    const times = this.admitted.get(account) ?? [];
    while (times.length > 0 && now - times[0]! >= 1000) times.shift();
    this.admitted.set(account, times);
    if (times.length >= this.rateLimit) return true;
    times.push(now);
    this.acceptedArrivals.push(now);
    return false;
  }

  /** A 200 whose body never ends: a byte every `everyMs`, until the client gives up. */
  private async drip(res: ServerResponse, everyMs: number): Promise<void> {
    this.dripping++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{');
    const timer = setInterval(() => res.write(' '), everyMs);
    await new Promise((resolve) => res.once('close', resolve));
    clearInterval(timer);
    this.dripping--;
  }
}
