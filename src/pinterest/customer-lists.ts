// Pinterest's customer-list and audience endpoints (ads_write / ads_read): what an audience
// sync needs to create a list, add and remove its members, read it back, and make it targetable.
import type { Agent, Dispatcher } from 'undici';
import { z } from 'zod';
import type { AudienceMatchKey, SyncDefinition } from '../config/schema.js';
import { AUDIENCE_LIST_TYPES } from '../config/schema.js';
import { parseDuration } from '../config/duration.js';
import { AuthError, PinterestRefusedError, RetriesExhaustedError } from '../core/errors.js';
import { loadUndici } from '../core/undici.js';
import { DEFAULT_API_URL } from './client.js';
import { defaultSleep, describeNetworkError, durationText, messageOf, parseRetryAfter, type Answer } from './http.js';
import { sharedBudget, type RateBudget, type Turn } from './rate-budget.js';

export type ListType = (typeof AUDIENCE_LIST_TYPES)[AudienceMatchKey];
export type ListOperation = 'ADD' | 'REMOVE';

/** A customer list as Pinterest describes it (CustomerList in the OpenAPI description). */
export interface CustomerList {
  id: string;
  name: string;
  /** PROCESSING, READY, TOO_SMALL or UPLOADING (kept as text: Pinterest may add more). */
  status?: string;
  numUploadedUserRecords?: number;
  numRemovedUserRecords?: number;
  numBatches?: number;
  /** Unix seconds. */
  createdTime?: number;
  updatedTime?: number;
}

/** A CUSTOMER_LIST audience. */
export interface Audience {
  id: string;
  name: string;
  status?: string;
  /** Pinterest's estimate of the matched users, when it gives one. */
  size?: number;
  customerListId?: string;
}

/** What the client sent, for the run's report. */
export interface ListRequestsReport {
  requests: number;
  /** Answered 429. */
  throttled: number;
}

/**
 * Every call retries 429 (honouring Retry-After), 408, 5xx, malformed answers and network
 * errors within destination.max_retry_time, then throws RetriesExhaustedError; 401 and 403
 * throw AuthError (saying that customer lists need an OAuth token with ads:write, not a
 * conversion token); other refusals throw PinterestRefusedError. `signal` stops a wait.
 */
export interface CustomerListApi {
  /** The list, or undefined when the ad account has no list of that id. */
  getList(id: string, signal?: AbortSignal): Promise<CustomerList | undefined>;
  /** The ad account's lists named exactly `name` (all pages). */
  findLists(name: string, signal?: AbortSignal): Promise<CustomerList[]>;
  createList(input: { name: string; listType: ListType; records: readonly string[] }, signal?: AbortSignal): Promise<CustomerList>;
  updateList(id: string, operation: ListOperation, records: readonly string[], signal?: AbortSignal): Promise<CustomerList>;
  /** The ad account's CUSTOMER_LIST audiences built on this list (all pages). */
  findAudiences(listId: string, signal?: AbortSignal): Promise<Audience[]>;
  createAudience(input: { name: string; listId: string }, signal?: AbortSignal): Promise<Audience>;
  report(): ListRequestsReport;
  /** Safe to call twice. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The client: pinsync's own reading of Pinterest's answers (from the OpenAPI description, v5.23.0),
// its retries, and its refusals, each named in the sync file's terms.

/** CustomerList: every field but id and name is optional, status is any text (Pinterest may add values). */
const customerListAnswer = z.object({
  id: z.string().min(1),
  name: z.string(),
  status: z.string().nullish(),
  num_uploaded_user_records: z.number().nullish(),
  num_removed_user_records: z.number().nullish(),
  num_batches: z.number().nullish(),
  created_time: z.number().nullish(),
  updated_time: z.number().nullish(),
});

/** Audience: audience_type and rule.customer_list_id tell a customer list's audience from the others. */
const audienceAnswer = z.object({
  id: z.string().min(1),
  name: z.string().nullish(),
  audience_type: z.string().nullish(),
  status: z.string().nullish(),
  size: z.number().nullish(),
  rule: z.object({ customer_list_id: z.string().nullish() }).nullish(),
});

/** Paginated: items, and a bookmark while there are more. */
const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), bookmark: z.string().nullish() });

type CustomerListAnswer = z.infer<typeof customerListAnswer>;
type AudienceAnswer = z.infer<typeof audienceAnswer>;

function toCustomerList(answer: CustomerListAnswer): CustomerList {
  return {
    id: answer.id,
    name: answer.name,
    ...(answer.status != null ? { status: answer.status } : {}),
    ...(answer.num_uploaded_user_records != null ? { numUploadedUserRecords: answer.num_uploaded_user_records } : {}),
    ...(answer.num_removed_user_records != null ? { numRemovedUserRecords: answer.num_removed_user_records } : {}),
    ...(answer.num_batches != null ? { numBatches: answer.num_batches } : {}),
    ...(answer.created_time != null ? { createdTime: answer.created_time } : {}),
    ...(answer.updated_time != null ? { updatedTime: answer.updated_time } : {}),
  };
}

function toAudience(answer: AudienceAnswer): Audience {
  return {
    id: answer.id,
    name: answer.name ?? '',
    ...(answer.status != null ? { status: answer.status } : {}),
    ...(answer.size != null ? { size: answer.size } : {}),
    ...(answer.rule?.customer_list_id != null ? { customerListId: answer.rule.customer_list_id } : {}),
  };
}

/** Pinterest's rate-limit categories (x-ratelimit-category in the OpenAPI description). */
type Category = 'ads_read' | 'ads_write';

/**
 * Neither limit is published in the OpenAPI description: a conservative 5 requests a second,
 * which at 10,000 records a request is 3 million records a minute; a 429 lowers it further.
 */
export const ADS_WRITE_REQUESTS_PER_MINUTE = 300;
export const ADS_READ_REQUESTS_PER_MINUTE = 300;
/** The largest page the list endpoints give (query_page_size's maximum). */
const PAGE_SIZE = 250;
const DEFAULT_TIMEOUT_MS = 30_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30_000;

export interface CustomerListClientOptions {
  adAccountId: string;
  /** An OAuth access token with ads:write (and ads:read) for the ad account. */
  accessToken: string;
  /** API base, e.g. https://api.pinterest.com/v5 (PINTEREST_API_URL overrides it for tests). */
  apiUrl?: string;
  userAgent: string;
  /** One request's whole answer, headers and body. */
  timeoutMs?: number;
  /** How long one call may take, its retries and the attempt in progress included. */
  maxRetryMs?: number;
  /** Keep-alive connections to Pinterest. */
  connections?: number;
  /** The ad account's ads_write pace (customer lists' writes, audiences' creation), shared with the process's other senders. */
  budget?: RateBudget;
  /** This sync's ceiling for `budget`. */
  requestsPerMinute?: number;
  /** The ad account's ads_read pace (reading lists and audiences back). */
  readBudget?: RateBudget;
  readRequestsPerMinute?: number;
  /** Injected for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<unknown>;
  random?: () => number;
}

interface Call<T> {
  method: 'GET' | 'POST' | 'PATCH';
  /** Below /ad_accounts/{id}. */
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  /** Sent in the body: never shown, even when Pinterest's message repeats them. */
  records?: readonly string[];
  category: Category;
  /** What the call does, for messages: "create the customer list". */
  what: string;
  answer: z.ZodType<T>;
  /** A 404, or a refusal that says "not found", answers undefined. */
  missingIsUndefined?: boolean;
  /** Creates something: sent again after a failure that may have created it, it would make two. */
  creates?: boolean;
}

/** A create whose answer was lost (5xx, timeout, a cut-off body): look for what it made before trying again. */
export class MaybeCreatedError extends RetriesExhaustedError {
  override name = 'MaybeCreatedError';
}

interface CallClock {
  started: number;
  deadline: number;
  attempts: number;
  signal?: AbortSignal;
  /** The last transient failure, to name when the time runs out. */
  failure?: string;
}

const NOT_FOUND = /not (be )?found|does not exist|doesn't exist/i;
const EMAIL_LIKE = /[^\s,;:'"()<>[\]]+@[^\s,;:'"()<>[\]]+/g;
const LONG_HEX = /\b[0-9a-f]{32,}\b/gi;

/** Text from Pinterest with the token, the request's records, and anything like an identifier masked. */
export function maskedText(text: string, secrets: { token: string; records?: readonly string[] }): string {
  let out = secrets.token ? text.split(secrets.token).join('***') : text;
  if (secrets.records && secrets.records.length > 0) {
    const records = new Set(secrets.records);
    out = out.replace(/[^\s,;:'"()<>[\]]+/g, (word) => (records.has(word) ? '…' : word));
  }
  return out.replace(EMAIL_LIKE, '…').replace(LONG_HEX, '…');
}

/** The first thing wrong with an answer, by path: never a value (it could be an identifier). */
function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'unreadable';
  return `${issue.path.length > 0 ? issue.path.join('.') : 'the answer'}: ${issue.message}`;
}

export class CustomerListClient implements CustomerListApi {
  private dispatcher?: Agent;
  private closed = false;
  private readonly base: string;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<unknown>;
  private readonly random: () => number;
  private readonly leave: (() => void)[] = [];
  private requests = 0;
  private throttled = 0;

  constructor(private readonly options: CustomerListClientOptions) {
    const api = (options.apiUrl ?? DEFAULT_API_URL).replace(/\/+$/, '');
    this.base = `${api}/ad_accounts/${encodeURIComponent(options.adAccountId)}`;
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
    if (options.budget) this.leave.push(options.budget.join(options.requestsPerMinute ?? ADS_WRITE_REQUESTS_PER_MINUTE));
    if (options.readBudget) this.leave.push(options.readBudget.join(options.readRequestsPerMinute ?? ADS_READ_REQUESTS_PER_MINUTE));
  }

  async getList(id: string, signal?: AbortSignal): Promise<CustomerList | undefined> {
    const answer = await this.call({
      method: 'GET', path: `/customer_lists/${encodeURIComponent(id)}`, category: 'ads_read',
      what: `read customer list ${id}`, answer: customerListAnswer, missingIsUndefined: true,
    }, signal);
    return answer && toCustomerList(answer);
  }

  async findLists(name: string, signal?: AbortSignal): Promise<CustomerList[]> {
    const items = await this.allPages('/customer_lists', 'list the customer lists', customerListAnswer, signal);
    return items.filter((list) => list.name === name).map(toCustomerList);
  }

  async createList(input: { name: string; listType: ListType; records: readonly string[] }, signal?: AbortSignal): Promise<CustomerList> {
    const answer = await this.call({
      method: 'POST', path: '/customer_lists', category: 'ads_write', what: 'create the customer list',
      body: { name: input.name, records: joinRecords(input.records), list_type: input.listType }, records: input.records,
      answer: customerListAnswer, creates: true,
    }, signal);
    return toCustomerList(answer!);
  }

  async updateList(id: string, operation: ListOperation, records: readonly string[], signal?: AbortSignal): Promise<CustomerList> {
    const answer = await this.call({
      method: 'PATCH', path: `/customer_lists/${encodeURIComponent(id)}`, category: 'ads_write',
      what: `${operation === 'ADD' ? 'add' : 'remove'} ${records.length} record${records.length === 1 ? '' : 's'} ${operation === 'ADD' ? 'to' : 'from'} customer list ${id}`,
      body: { operation_type: operation, records: joinRecords(records) }, records, answer: customerListAnswer,
    }, signal);
    return toCustomerList(answer!);
  }

  async findAudiences(listId: string, signal?: AbortSignal): Promise<Audience[]> {
    const items = await this.allPages('/audiences', 'list the audiences', audienceAnswer, signal);
    return items.filter((a) => a.audience_type === 'CUSTOMER_LIST' && a.rule?.customer_list_id === listId).map(toAudience);
  }

  async createAudience(input: { name: string; listId: string }, signal?: AbortSignal): Promise<Audience> {
    const answer = await this.call({
      method: 'POST', path: '/audiences', category: 'ads_write', what: `create the audience of customer list ${input.listId}`,
      body: { ad_account_id: this.options.adAccountId, name: input.name, rule: { customer_list_id: input.listId }, audience_type: 'CUSTOMER_LIST' },
      answer: audienceAnswer, creates: true,
    }, signal);
    return toAudience(answer!);
  }

  report(): ListRequestsReport {
    return { requests: this.requests, throttled: this.throttled };
  }

  async close(): Promise<void> {
    if (!this.closed) for (const leave of this.leave) leave();
    this.closed = true;
    await this.dispatcher?.close();
  }

  /** Every page of a list endpoint, following bookmarks. */
  private async allPages<T>(path: string, what: string, item: z.ZodType<T>, signal?: AbortSignal): Promise<T[]> {
    const items: T[] = [];
    const seen = new Set<string>();
    let bookmark: string | undefined;
    for (let pageNumber = 1; ; pageNumber++) {
      const answer = await this.call({
        method: 'GET', path, category: 'ads_read', what: `${what} (page ${pageNumber})`,
        query: { page_size: String(PAGE_SIZE), ...(bookmark ? { bookmark } : {}) }, answer: page(item),
      }, signal);
      items.push(...answer!.items);
      if (!answer!.bookmark) return items;
      // A bookmark seen before would page for ever.
      if (seen.has(answer!.bookmark)) throw new PinterestRefusedError(`Pinterest gave the same page bookmark twice while pinsync tried to ${what}; stopped paging`);
      seen.add(answer!.bookmark);
      bookmark = answer!.bookmark;
    }
  }

  private get maxRetryMs(): number {
    return this.options.maxRetryMs ?? 600_000;
  }

  private async call<T>(call: Call<T>, signal?: AbortSignal): Promise<T | undefined> {
    // Before the retries: a broken install is not a network error, and fails at once.
    const { Agent, request } = await loadUndici();
    if (this.closed) throw new Error('the customer-list client was closed');
    const dispatcher = (this.dispatcher ??= new Agent({ connections: this.options.connections ?? 4, keepAliveTimeout: 30_000, pipelining: 1 }));
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const started = Date.now();
    const clock: CallClock = { started, deadline: started + this.maxRetryMs, attempts: 0, ...(signal ? { signal } : {}) };
    const budget = call.category === 'ads_write' ? this.options.budget : this.options.readBudget;
    const url = `${this.base}${call.path}${call.query ? `?${new URLSearchParams(call.query).toString()}` : ''}`;
    const body = call.body === undefined ? undefined : JSON.stringify(call.body);
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.options.accessToken}`,
      accept: 'application/json',
      'user-agent': this.options.userAgent,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    };
    const mask = (text: string) => maskedText(text, { token: this.options.accessToken, ...(call.records ? { records: call.records } : {}) });
    for (let attempt = 0; ; attempt++) {
      let left = clock.deadline - Date.now();
      if (left <= 0) throw this.exhausted(call, clock);
      let turn: Turn | undefined;
      if (budget) {
        turn = await this.takeTurn(budget, call, clock, left);
        left = clock.deadline - Date.now();
        if (left <= 0) throw this.exhausted(call, clock);
      }
      let answer: Answer | undefined;
      let failure: string;
      let load: 'accepted' | 'throttled' | 'overloaded' = 'overloaded';
      // destination.timeout bounds the whole answer, headers and body; max_retry_time bounds it too.
      const cutByBudget = left < timeoutMs;
      const attemptSignal = AbortSignal.timeout(Math.min(timeoutMs, left));
      try {
        clock.attempts++;
        this.requests++;
        const response: Dispatcher.ResponseData = await request(url, {
          method: call.method, headers, ...(body !== undefined ? { body } : {}), dispatcher,
          headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: attemptSignal,
        });
        const text = await response.body.text();
        const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
        answer = { status: response.statusCode, body: null, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
        try {
          answer.body = JSON.parse(text);
        } catch {
          answer.text = text;
        }
        const { status } = answer;
        load = status === 429 ? 'throttled' : status === 408 || status >= 500 ? 'overloaded' : 'accepted';
        if (status === 429) this.throttled++;
        const said = () => mask(messageOf(answer!));
        if (status === 401 || status === 403) throw new AuthError(this.authMessage(status, said()));
        if (status >= 200 && status < 300) {
          if (answer.text !== undefined) {
            failure = `${status} with ${said()}`;
          } else {
            const parsed = call.answer.safeParse(answer.body);
            if (parsed.success) return parsed.data;
            failure = `${status} with an answer pinsync cannot read (${firstIssue(parsed.error)})`;
          }
          // Retried like a 5xx: most likely cut off or mangled on the way.
          load = 'overloaded';
        } else if (status === 429 || status === 408 || status >= 500) {
          failure = `${status}: ${said()}`;
        } else if (call.missingIsUndefined && (status === 404 || (status >= 400 && status < 500 && NOT_FOUND.test(messageOf(answer))))) {
          return undefined;
        } else {
          const code = (answer.body as { code?: unknown } | null)?.code;
          throw new PinterestRefusedError(`Pinterest refused to ${call.what} (${status}${typeof code === 'number' || typeof code === 'string' ? `, code ${code}` : ''}: ${said()})`);
        }
      } catch (error) {
        if (error instanceof AuthError || error instanceof PinterestRefusedError) throw error;
        failure = attemptSignal.aborted
          ? cutByBudget
            ? `network error: no answer before destination.max_retry_time (${durationText(this.maxRetryMs)}) ran out`
            : `network error: no answer within ${timeoutMs / 1000}s (destination.timeout)`
          : `network error: ${mask(describeNetworkError(error as Error & { code?: string }, timeoutMs))}`;
      } finally {
        // A 5xx, a timeout or a lost connection is neither accepted nor refused for the rate limit.
        if (turn && load !== 'overloaded') budget!.answered(turn, load);
      }
      clock.failure = failure;
      // Only a 429 says for sure that nothing was created; the caller looks before creating again.
      if (call.creates && load !== 'throttled') throw new MaybeCreatedError(`pinsync could not ${call.what} (${failure}), and Pinterest may have done it anyway`);
      const rest = clock.deadline - Date.now();
      if (answer?.retryAfterMs !== undefined && answer.retryAfterMs > rest) {
        const allows = answer.retryAfterMs > this.maxRetryMs ? 'allows' : 'has left for this request';
        throw new RetriesExhaustedError(`Pinterest asked to wait ${Math.ceil(answer.retryAfterMs / 1000)}s (Retry-After, after ${failure}) before pinsync could ${call.what}, longer than destination.max_retry_time (${durationText(this.maxRetryMs)}) ${allows}; the run stopped`);
      }
      const backoff = this.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
      const wait = Math.max(answer?.retryAfterMs ?? 0, backoff);
      if (wait >= rest || clock.signal?.aborted) throw this.exhausted(call, clock);
      try {
        await this.sleep(wait, clock.signal);
      } catch {
        throw new RetriesExhaustedError(`stopped retrying to ${call.what} (last: ${failure}): the run failed elsewhere`);
      }
    }
  }

  private authMessage(status: 401 | 403, said: string): string {
    const need = `Customer lists need an OAuth access token with the ads:write scope for ad account ${this.options.adAccountId} (a conversion access token is refused)`;
    return status === 401
      ? `Pinterest refused the access token (401: ${said}). ${need}: check destination.access_token.`
      : `Pinterest denied access to the customer lists of ad account ${this.options.adAccountId} (403: ${said}). ${need}, and the token's user needs an Admin, Audience or Campaign role on it: check destination.access_token and destination.ad_account_id.`;
  }

  /** Waits for the ad account's pace; the wait counts towards max_retry_time. */
  private async takeTurn(budget: RateBudget, call: Call<unknown>, clock: CallClock, left: number): Promise<Turn> {
    const free = budget.tryAcquire();
    if (free) return free;
    const signals = [AbortSignal.timeout(left), ...(clock.signal ? [clock.signal] : [])];
    try {
      return await budget.acquire(this, AbortSignal.any(signals));
    } catch {
      const last = clock.failure ? ` (last: ${clock.failure})` : '';
      if (clock.signal?.aborted) throw new RetriesExhaustedError(`stopped waiting to ${call.what}${last}: the run failed elsewhere`);
      throw new RetriesExhaustedError(`pinsync ran out of destination.max_retry_time (${durationText(this.maxRetryMs)}) waiting for its turn to ${call.what} in this ad account's ${call.category} request budget${last}`);
    }
  }

  private exhausted(call: Call<unknown>, clock: CallClock): RetriesExhaustedError {
    const seconds = Math.round((Date.now() - clock.started) / 1000);
    if (!clock.failure) return new RetriesExhaustedError(`pinsync could not ${call.what} within destination.max_retry_time (${durationText(this.maxRetryMs)})`);
    return new RetriesExhaustedError(`Pinterest kept failing for ${seconds}s while pinsync tried to ${call.what} (last: ${clock.failure}); gave up after ${clock.attempts} attempts, within destination.max_retry_time (${durationText(this.maxRetryMs)})`);
  }
}

/** Records as the API takes them: one comma-separated string. */
function joinRecords(records: readonly string[]): string {
  // A comma inside a record would split it in two on Pinterest's side: pinsync sends digests, so this is a bug.
  if (records.some((r) => r.includes(','))) throw new Error('a customer-list record holds a comma; this is a bug, please report it');
  return records.join(',');
}

/** Where an audience sync's client sends: the userAgent and API URL come from the CLI. */
export interface CustomerListClientFor {
  userAgent: string;
  /** PINTEREST_API_URL, when set. */
  apiUrl?: string;
  /** Shorter than the sync file's, for a look that must not hold a command up (status). */
  timeoutMs?: number;
  maxRetryMs?: number;
}

/** A customer-list client for an audience sync's destination; the token never leaves it. */
export function customerListClientFor(sync: SyncDefinition, overrides: CustomerListClientFor): CustomerListClient {
  const { destination } = sync;
  const apiUrl = overrides.apiUrl ?? DEFAULT_API_URL;
  const adAccountId = String(destination.ad_account_id);
  const perMinute = destination.max_requests_per_minute ?? ADS_WRITE_REQUESTS_PER_MINUTE;
  return new CustomerListClient({
    adAccountId,
    accessToken: destination.access_token!,
    apiUrl,
    userAgent: overrides.userAgent,
    timeoutMs: overrides.timeoutMs ?? parseDuration(destination.timeout) * 1000,
    maxRetryMs: overrides.maxRetryMs ?? parseDuration(destination.max_retry_time) * 1000,
    // Customer-list writes share the ad account's ads_write limit, not the Conversions API's.
    budget: sharedBudget(apiUrl, `${adAccountId} ads_write`, perMinute),
    requestsPerMinute: perMinute,
    readBudget: sharedBudget(apiUrl, `${adAccountId} ads_read`, ADS_READ_REQUESTS_PER_MINUTE),
    readRequestsPerMinute: ADS_READ_REQUESTS_PER_MINUTE,
  });
}
