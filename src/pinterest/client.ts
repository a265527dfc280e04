// The Conversions API client: sends one batch, classifies every answer, retries what
// can be retried, and returns one result per event. The token is sent, never shown.
import { setTimeout as delay } from 'node:timers/promises';
import type { Agent, Dispatcher } from 'undici';
import { loadUndici, type Undici } from '../undici.js';
import { AuthError, RetriesExhaustedError } from '../errors.js';
import type { EncodedEvents } from '../mapping/encode.js';

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
  /** Per request. */
  timeoutMs?: number;
  /** How long one batch may keep retrying 429, 5xx and network errors. */
  maxRetryMs?: number;
  /** Batches the caller sends at once (destination.concurrency); one keep-alive connection more is kept. */
  connections?: number;
  /** Injected for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<unknown>;
  random?: () => number;
}

interface Answer {
  status: number;
  body: unknown;
  retryAfterMs?: number;
}

const BACKOFF_BASE_MS = 500;
const DEFAULT_TIMEOUT_MS = 30_000;
const BACKOFF_CAP_MS = 30_000;

const defaultSleep = (ms: number, signal?: AbortSignal) => delay(ms, undefined, signal ? { signal } : undefined);

function parseRetryAfter(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function messageOf(body: unknown): string {
  const message = (body as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : 'no message';
}

/** What went wrong on the network, in the sync file's terms where it can. */
function describeNetworkError(error: Error & { code?: string }, timeoutMs: number): string {
  if (error.code === 'UND_ERR_HEADERS_TIMEOUT' || error.code === 'UND_ERR_BODY_TIMEOUT') {
    return `no answer within ${timeoutMs / 1000}s (destination.timeout)`;
  }
  return error.message;
}

/** Per-event results from a 200 body, or from a 422's details. */
function perEventResults(body: unknown, count: number): EventResult[] | undefined {
  const candidates = [body, (body as { details?: unknown } | null)?.details];
  for (const candidate of candidates) {
    const events = (candidate as { events?: unknown } | null)?.events;
    if (!Array.isArray(events) || events.length !== count) continue;
    return events.map((e: { status?: unknown; error_message?: unknown; warning_message?: unknown }) =>
      e?.status === 'processed'
        ? { status: 'processed', ...(typeof e.warning_message === 'string' && e.warning_message ? { warning: e.warning_message } : {}) }
        : { status: 'failed', error: typeof e?.error_message === 'string' && e.error_message ? e.error_message : 'failed without a message' });
  }
  return undefined;
}

export class PinterestClient {
  private dispatcher?: Agent;
  private closed = false;
  private readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<unknown>;
  private readonly random: () => number;

  constructor(private readonly options: ClientOptions) {
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
   * Loads the HTTP client now, while there is time (a run waiting for its first batch), not
   * before the CLI can start anything: 30-40 ms bundled, 60-90 from node_modules.
   */
  warmUp(): void {
    loadUndici().catch(() => undefined);
  }

  /**
   * Sends a batch; returns one result per event, in order. Throws AuthError, or
   * RetriesExhaustedError; `signal` cuts a retry wait short (the run has failed already).
   */
  async send(events: EncodedEvents, signal?: AbortSignal): Promise<EventResult[]> {
    return this.sendPart(events, signal, true);
  }

  private async sendPart(events: EncodedEvents, signal: AbortSignal | undefined, whole: boolean): Promise<EventResult[]> {
    const answer = await this.postWithRetries(events, signal);
    if (answer.status === 200 || answer.status === 422) {
      const results = perEventResults(answer.body, events.length);
      if (results) return results;
      if (answer.status === 200) {
        // No per-event detail: trust the counts when they say everything was processed.
        const processed = (answer.body as { num_events_processed?: unknown } | null)?.num_events_processed;
        if (processed === events.length) return Array.from({ length: events.length }, () => ({ status: 'processed' }));
      }
    }
    // The whole batch was refused (or too large): halve it until the bad events stand alone.
    if (answer.status === 400 || answer.status === 422 || answer.status === 413) {
      if (events.length === 1) {
        if (answer.status === 413) throw new RetriesExhaustedError(`Pinterest refused a single event as too large (413: ${messageOf(answer.body)})`);
        return [{ status: 'failed', error: `${answer.status}: ${messageOf(answer.body)}` }];
      }
      const middle = Math.ceil(events.length / 2);
      const left = await this.sendPart(events.slice(0, middle), signal, false);
      const right = await this.sendPart(events.slice(middle), signal, false);
      // Both halves of a whole batch refused outright: the request, not an event, is at fault,
      // and splitting further would only reject every event. Fail the run instead.
      if (whole && answer.status === 400 && events.length > 2 && [...left, ...right].every((r) => r.status === 'failed' && r.error.startsWith('400:'))) {
        throw new RetriesExhaustedError(`Pinterest refused every event of a batch with 400 (${messageOf(answer.body)}); this looks like a problem with the request, not the events`);
      }
      return [...left, ...right];
    }
    if (answer.status === 200) throw new RetriesExhaustedError('Pinterest answered 200 without per-event results');
    throw new RetriesExhaustedError(`Pinterest answered ${answer.status}: ${messageOf(answer.body)}`);
  }

  private async postWithRetries(events: EncodedEvents, signal?: AbortSignal): Promise<Answer> {
    // Before the retries: a broken install is not a network error, and fails at once.
    const { Agent, request } = await loadUndici();
    if (this.closed) throw new Error('the Pinterest client was closed');
    // Keep-alive connections: one per batch in flight, and one more. A batch sent as another's
    // answer arrives could otherwise find every connection still marked busy and wait in
    // undici's queue for the next answer (ms at a time); the run still sends no more than
    // `connections` batches at once.
    const dispatcher = (this.dispatcher ??= new Agent({ connections: (this.options.connections ?? 8) + 1, keepAliveTimeout: 30_000, pipelining: 1 }));
    const body = events.requestChunks();
    const started = Date.now();
    const budget = this.options.maxRetryMs ?? 600_000;
    for (let attempt = 0; ; attempt++) {
      let answer: Answer | undefined;
      let failure: string;
      try {
        answer = await this.post(body, request, dispatcher);
        if (answer.status === 401) {
          throw new AuthError(`Pinterest refused the access token (401: ${messageOf(answer.body)}). Check destination.access_token: it must be a current conversion access token for this ad account.`);
        }
        if (answer.status === 403) {
          throw new AuthError(`Pinterest denied access to ad account ${this.options.adAccountId} (403: ${messageOf(answer.body)}). Check destination.ad_account_id, and that the token's user has an Admin, Analyst, Audience or Campaign role on it.`);
        }
        if (answer.status !== 429 && answer.status !== 408 && answer.status < 500) return answer;
        failure = `${answer.status}: ${messageOf(answer.body)}`;
      } catch (error) {
        if (error instanceof AuthError) throw error;
        // A body that does not add up to its content-length is pinsync's own mistake: sending it
        // again cannot help, and retrying would hide it for as long as max_retry_time.
        if ((error as { code?: string }).code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') {
          throw new Error(`pinsync built a request body that does not match its length (${(error as Error).message}); this is a bug, please report it`);
        }
        failure = `network error: ${describeNetworkError(error as Error & { code?: string }, this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS)}`;
      }
      const backoff = this.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
      const wait = Math.max(answer?.retryAfterMs ?? 0, backoff);
      if (Date.now() - started + wait > budget || signal?.aborted) {
        throw new RetriesExhaustedError(`Pinterest kept failing for ${Math.round((Date.now() - started) / 1000)}s (last: ${failure}); gave up after ${attempt + 1} attempts`);
      }
      try {
        await this.sleep(wait, signal);
      } catch {
        throw new RetriesExhaustedError(`stopped retrying (last: ${failure}): the run failed elsewhere`);
      }
    }
  }

  private async post(body: { chunks: Uint8Array[]; length: number }, request: Undici['request'], dispatcher: Agent): Promise<Answer> {
    const timeout = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // The pieces are written in order under one content-length; an array can be sent again on
    // a retry. undici documents iterable bodies (docs/api/Dispatcher.md), its types omit them.
    const chunks = body.chunks as Iterable<Uint8Array> as Dispatcher.DispatchOptions['body'];
    const response: Dispatcher.ResponseData = await request(this.url, {
      method: 'POST', headers: { ...this.headers, 'content-length': String(body.length) }, body: chunks, dispatcher, headersTimeout: timeout, bodyTimeout: timeout,
    });
    const text = await response.body.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = { message: text.slice(0, 200) };
    }
    return { status: response.statusCode, body: parsed, retryAfterMs: parseRetryAfter(response.headers['retry-after']) };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.dispatcher?.close();
  }
}
