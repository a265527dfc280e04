// A fake Pinterest Conversions API on 127.0.0.1 that answers like the real one: it checks
// the token, the ad account and every event against the event schema, answers per-event
// results, and can be told to fail in each documented way. It also answers the customer-list
// and audience endpoints (fake-pinterest-lists.ts checks their requests against the official
// description) and keeps each list's members.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { conversionEventSchema } from '../../src/core/event-schema.js';
import { bookmarkFor, errorsText, offsetOf, recordsOf, routeOf, validators, WRITE_ENDPOINTS, type ListEndpoint } from './fake-pinterest-lists.js';

export type { ListEndpoint } from './fake-pinterest-lists.js';

export interface Scripted {
  status: number;
  body?: unknown;
  retryAfter?: string;
  /** Sent as is (an HTML page, a cut-off body) instead of the JSON body. */
  raw?: string;
  /** Headers now, then one byte of body every `dripMs` milliseconds, never done. */
  dripMs?: number;
}

/** A scripted answer for a customer-list or audience request. */
export interface ListScripted extends Scripted {
  /** Only for requests to this endpoint (by default, the next customer-list or audience request). */
  endpoint?: ListEndpoint;
  /** Wait this long, then answer (the scripted status, or the real answer when `status` is 0). */
  delayMs?: number;
  /** Do what the request asks first (the membership changes), then answer this: an answer lost on the way. */
  afterApplying?: boolean;
}

export interface FakeCustomerList {
  id: string;
  adAccountId: string;
  name: string;
  listType: string;
  /** The records it was sent and holds: ADD adds, REMOVE deletes. */
  members: Set<string>;
  /** Pinterest's counters: every record sent to ADD (or create), every record sent to REMOVE, each call. */
  uploaded: number;
  removed: number;
  batches: number;
  createdTime: number;
  updatedTime: number;
}

export interface FakeAudience {
  id: string;
  adAccountId: string;
  name: string;
  audienceType: string;
  customerListId?: string;
  createdTime: number;
}

export interface LoggedListRequest {
  endpoint: ListEndpoint;
  method: string;
  path: string;
  query: Record<string, string>;
  /** The parsed JSON body, when there is one. */
  body?: unknown;
  status: number;
}

/** A request the description does not allow (answered 400), or an answer of the fake's own it does not allow. */
export interface InvalidExchange {
  endpoint: ListEndpoint;
  where: 'path' | 'query' | 'body' | 'answer';
  errors: string;
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

  /** An OAuth token with ads:read and ads:write: what the customer-list endpoints take. */
  readonly oauthToken: string;
  /** OAuth tokens with ads:read only: customer-list writes answer 403. */
  readonly readOnlyTokens = new Set<string>();
  /** What the conversion token (`token`) gets on the customer-list endpoints, which want an OAuth token. */
  conversionTokenAnswer: 401 | 403 = 401;
  /** Customer lists, by id, in every ad account. */
  readonly customerLists = new Map<string, FakeCustomerList>();
  readonly audienceById = new Map<string, FakeAudience>();
  /** Answers used, in order, for customer-list and audience requests (each entry by its `endpoint`). */
  readonly listScript: ListScripted[] = [];
  /** Answer every customer-list and audience request with this (after the script). */
  listAlways?: ListScripted;
  /** Customer-list and audience requests, in order. */
  readonly listLog: LoggedListRequest[] = [];
  readonly invalidRequests: InvalidExchange[] = [];
  readonly invalidAnswers: InvalidExchange[] = [];
  /** The most items on a page of a list endpoint, whatever page_size asks (paging is exercised with few lists). */
  maxPageSize?: number;
  /** Records a create or update may carry; more is refused with 400. */
  maxRecordsPerRequest?: number;
  /** Pinterest's status of a list: TOO_SMALL under 100 members, READY from then on, unless this says otherwise. */
  listStatus: (list: FakeCustomerList) => string = defaultListStatus;
  private nextId = 0;

  constructor(options: { token?: string; adAccountId?: string; oauthToken?: string } = {}) {
    this.token = options.token ?? 'pina_test_token';
    this.adAccountId = options.adAccountId ?? '549757463328';
    this.oauthToken = options.oauthToken ?? 'pina_oauth_test_token';
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
    this.readOnlyTokens.clear();
    this.conversionTokenAnswer = 401;
    this.customerLists.clear();
    this.audienceById.clear();
    this.listScript.length = 0;
    this.listAlways = undefined;
    this.listLog.length = 0;
    this.invalidRequests.length = 0;
    this.invalidAnswers.length = 0;
    this.maxPageSize = undefined;
    this.maxRecordsPerRequest = undefined;
    this.listStatus = defaultListStatus;
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
    const listRoute = routeOf(req.method ?? 'GET', url.pathname);
    if (listRoute) return this.answerList(req, res, url, listRoute, Buffer.concat(chunks).toString('utf8'));
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

  // ------------------------------------------------------------------------------------------
  // Customer lists and audiences.

  /** The customer lists of the ad account (`adAccountId` by default), by id. */
  lists(adAccountId = this.adAccountId): FakeCustomerList[] {
    return [...this.customerLists.values()].filter((l) => l.adAccountId === adAccountId).sort((a, b) => compareIds(a.id, b.id));
  }

  /** The records a list holds now (a copy). */
  membersOf(listId: string): Set<string> {
    const list = this.customerLists.get(listId);
    if (!list) throw new Error(`the fake has no customer list ${listId}`);
    return new Set(list.members);
  }

  audiences(adAccountId = this.adAccountId): FakeAudience[] {
    return [...this.audienceById.values()].filter((a) => a.adAccountId === adAccountId).sort((a, b) => compareIds(a.id, b.id));
  }

  /** Customer-list and audience requests to one endpoint, in order. */
  requestsTo(endpoint: ListEndpoint): LoggedListRequest[] {
    return this.listLog.filter((r) => r.endpoint === endpoint);
  }

  /** A list made elsewhere (Ads Manager, another tool): counted as one batch, like Pinterest's create. */
  addList(name: string, members: Iterable<string> = [], options: { listType?: string; adAccountId?: string } = {}): FakeCustomerList {
    const now = Math.floor(Date.now() / 1000);
    const set = new Set(members);
    const list: FakeCustomerList = {
      id: this.newId(), adAccountId: options.adAccountId ?? this.adAccountId, name, listType: options.listType ?? 'EMAIL',
      members: set, uploaded: set.size, removed: 0, batches: 1, createdTime: now, updatedTime: now,
    };
    this.customerLists.set(list.id, list);
    return list;
  }

  /** An audience made elsewhere, of any type (a VISITOR audience has no customer list). */
  addAudience(name: string, options: { audienceType?: string; customerListId?: string; adAccountId?: string } = {}): FakeAudience {
    const audience: FakeAudience = {
      id: this.newId(), adAccountId: options.adAccountId ?? this.adAccountId, name, audienceType: options.audienceType ?? 'CUSTOMER_LIST',
      ...(options.customerListId !== undefined ? { customerListId: options.customerListId } : {}), createdTime: Math.floor(Date.now() / 1000),
    };
    this.audienceById.set(audience.id, audience);
    return audience;
  }

  private newId(): string {
    // Pinterest's ids are digits, up to 18 (path_customer_list_id).
    return String(5497558000000 + ++this.nextId);
  }

  private async answerList(req: IncomingMessage, res: ServerResponse, url: URL, route: { endpoint: ListEndpoint; adAccountId: string; listId?: string }, text: string): Promise<void> {
    const { endpoint } = route;
    const check = validators[endpoint];
    const query = Object.fromEntries(url.searchParams);
    const entry: LoggedListRequest = { endpoint, method: req.method ?? 'GET', path: url.pathname, query, status: 0 };
    this.listLog.push(entry);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      if (status === 200 && !check.answer(body)) this.invalidAnswers.push({ endpoint, where: 'answer', errors: errorsText(check.answer) });
      this.send(res, status, body, headers);
    };
    const invalid = (where: InvalidExchange['where'], errors: string) => {
      this.invalidRequests.push({ endpoint, where, errors });
      reply(400, { code: 1, message: `Invalid request: ${where} ${errors}` });
    };

    // The token first, as Pinterest does: a conversion token is for the events endpoint only.
    const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    if (token === this.token) {
      return reply(this.conversionTokenAnswer, this.conversionTokenAnswer === 401
        ? { code: 2, message: 'Authentication failed.' }
        : { code: 3, message: 'Authorization failed.' });
    }
    if (token !== this.oauthToken && !this.readOnlyTokens.has(token ?? '')) return reply(401, { code: 2, message: 'Authentication failed.' });
    if (WRITE_ENDPOINTS.has(endpoint) && this.readOnlyTokens.has(token!)) return reply(403, { code: 3, message: 'Authorization failed.' });

    const pathParams = { ad_account_id: route.adAccountId, ...(route.listId !== undefined ? { customer_list_id: route.listId } : {}) };
    if (!check.path(pathParams)) return invalid('path', errorsText(check.path));
    if (route.adAccountId !== this.adAccountId && !this.moreAdAccounts.has(route.adAccountId)) {
      return reply(403, { code: 29, message: 'You are not permitted to access that resource.' });
    }
    if (!check.query({ ...query })) return invalid('query', errorsText(check.query));
    let body: unknown;
    if (check.body) {
      try {
        body = JSON.parse(text);
      } catch {
        return invalid('body', 'not JSON');
      }
      entry.body = body;
      if (!check.body(body)) return invalid('body', errorsText(check.body));
    }

    const at = this.listScript.findIndex((s) => s.endpoint === undefined || s.endpoint === endpoint);
    const scripted = at >= 0 ? this.listScript.splice(at, 1)[0] : this.listAlways && (this.listAlways.endpoint ?? endpoint) === endpoint ? this.listAlways : undefined;
    if (scripted?.delayMs) await new Promise((r) => setTimeout(r, scripted.delayMs));
    if (scripted && scripted.status !== 0 && !scripted.afterApplying) return this.scriptedList(res, entry, scripted);

    const [status, answer] = this.doList(route, query, body);
    if (scripted && scripted.status !== 0) return this.scriptedList(res, entry, scripted);
    reply(status, answer);
  }

  private scriptedList(res: ServerResponse, entry: LoggedListRequest, scripted: ListScripted): void {
    entry.status = scripted.status;
    if (scripted.status === 429) this.throttled++;
    if (scripted.dripMs !== undefined) return void this.drip(res, scripted.dripMs);
    if (scripted.raw !== undefined) {
      res.writeHead(scripted.status, { 'content-type': 'application/json', ...(scripted.retryAfter ? { 'retry-after': scripted.retryAfter } : {}) });
      res.end(scripted.raw);
      return;
    }
    this.send(res, scripted.status, scripted.body ?? { code: scripted.status, message: `scripted ${scripted.status}` },
      scripted.retryAfter ? { 'retry-after': scripted.retryAfter } : {});
  }

  /** What Pinterest does with a valid request: [status, body]. */
  private doList(route: { endpoint: ListEndpoint; adAccountId: string; listId?: string }, query: Record<string, string>, body: unknown): [number, unknown] {
    const now = Math.floor(Date.now() / 1000);
    const mine = (id: string | undefined) => {
      const list = id === undefined ? undefined : this.customerLists.get(id);
      return list && list.adAccountId === route.adAccountId ? list : undefined;
    };
    const tooMany = (records: string[]): [number, unknown] | undefined =>
      this.maxRecordsPerRequest !== undefined && records.length > this.maxRecordsPerRequest
        ? [400, { code: 1, message: `Too many records: at most ${this.maxRecordsPerRequest} a request.` }]
        : undefined;
    switch (route.endpoint) {
      case 'customer_lists/get': {
        const list = mine(route.listId);
        return list ? [200, this.listAnswer(list)] : [404, { code: 2601, message: 'Customer list not found.' }];
      }
      case 'customer_lists/list':
        return this.page(this.lists(route.adAccountId).map((l) => this.listAnswer(l)), query);
      case 'customer_lists/create': {
        const request = body as { name: string; records: string; list_type?: string };
        const records = recordsOf(request.records);
        if (records.length === 0) return [400, { code: 1, message: 'Invalid parameters: records must not be empty.' }];
        const refused = tooMany(records);
        if (refused) return refused;
        const list: FakeCustomerList = {
          id: this.newId(), adAccountId: route.adAccountId, name: request.name, listType: request.list_type ?? 'EMAIL',
          members: new Set(records), uploaded: records.length, removed: 0, batches: 1, createdTime: now, updatedTime: now,
        };
        this.customerLists.set(list.id, list);
        return [200, this.listAnswer(list)];
      }
      case 'customer_lists/update': {
        const list = mine(route.listId);
        if (!list) return [404, { code: 2601, message: 'Customer list not found.' }];
        const request = body as { operation_type: 'ADD' | 'REMOVE'; records: string };
        const records = recordsOf(request.records);
        if (records.length === 0) return [400, { code: 1, message: 'Invalid parameters: records must not be empty.' }];
        const refused = tooMany(records);
        if (refused) return refused;
        // Both idempotent; the counters count every record sent, found or not (the description says so).
        if (request.operation_type === 'ADD') {
          for (const r of records) list.members.add(r);
          list.uploaded += records.length;
        } else {
          for (const r of records) list.members.delete(r);
          list.removed += records.length;
        }
        list.batches++;
        list.updatedTime = now;
        return [200, this.listAnswer(list)];
      }
      case 'audiences/list':
        return this.page(this.audiences(route.adAccountId).map((a) => this.audienceAnswer(a)), query);
      case 'audiences/create': {
        const request = body as { ad_account_id?: string; name: string; audience_type: string; rule: { customer_list_id?: string } };
        if (request.ad_account_id !== undefined && request.ad_account_id !== route.adAccountId) {
          return [400, { code: 1, message: 'Invalid parameters: ad_account_id does not match the path.' }];
        }
        if (request.audience_type !== 'CUSTOMER_LIST') return [400, { code: 1, message: 'The fake Pinterest makes CUSTOMER_LIST audiences only.' }];
        if (!mine(request.rule.customer_list_id)) return [400, { code: 2601, message: 'Invalid parameters: customer list not found.' }];
        const audience = this.addAudience(request.name, { customerListId: request.rule.customer_list_id!, adAccountId: route.adAccountId });
        return [200, this.audienceAnswer(audience)];
      }
    }
  }

  /** One page of items, from the bookmark's offset. */
  private page(items: unknown[], query: Record<string, string>): [number, unknown] {
    const offset = offsetOf(query.bookmark ?? null);
    if (offset === undefined) return [400, { code: 1, message: 'Invalid bookmark.' }];
    const size = Math.min(Number(query.page_size ?? 25), this.maxPageSize ?? Infinity);
    const ordered = query.order === 'DESCENDING' ? [...items].reverse() : items;
    const next = offset + size;
    return [200, { items: ordered.slice(offset, next), bookmark: next < ordered.length ? bookmarkFor(next) : null }];
  }

  private listAnswer(list: FakeCustomerList): unknown {
    return {
      ad_account_id: list.adAccountId, created_time: list.createdTime, exceptions: {}, id: list.id, name: list.name,
      num_batches: list.batches, num_removed_user_records: list.removed, num_uploaded_user_records: list.uploaded,
      status: this.listStatus(list), type: 'customerlist', updated_time: list.updatedTime,
    };
  }

  private audienceAnswer(audience: FakeAudience): unknown {
    const list = audience.customerListId === undefined ? undefined : this.customerLists.get(audience.customerListId);
    const size = list?.members.size;
    return {
      ad_account_id: audience.adAccountId, audience_type: audience.audienceType, created_timestamp: audience.createdTime, description: null,
      id: audience.id, name: audience.name, rule: audience.customerListId === undefined ? {} : { customer_list_id: audience.customerListId },
      size: size === undefined || size < 100 ? null : size, status: size !== undefined && size < 100 ? 'TOO_SMALL' : 'READY', type: 'audience',
      updated_timestamp: audience.createdTime,
    };
  }
}

/** Pinterest needs 100 matched users before a list can be used. */
function defaultListStatus(list: FakeCustomerList): string {
  return list.members.size < 100 ? 'TOO_SMALL' : 'READY';
}

/** Ids are digits: by number, as Pinterest orders them. */
function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
