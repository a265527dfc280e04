// What Pinterest's clients share about an HTTP answer: its Retry-After, its message, and how a
// wait or a network failure is put in the sync file's terms.
import { setTimeout as delay } from 'node:timers/promises';

export interface Answer {
  status: number;
  body: unknown;
  /** The body's text, when it is not JSON (an HTML error page, a cut-off answer). */
  text?: string;
  retryAfterMs?: number;
}

export const defaultSleep = (ms: number, signal?: AbortSignal) => delay(ms, undefined, signal ? { signal } : undefined);

/** Retry-After in milliseconds, given in seconds or as an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export function messageOf(answer: Answer): string {
  if (answer.text !== undefined) {
    // An HTML page from a proxy: its words, without the markup.
    const words = answer.text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 120);
    return words ? `a non-JSON answer (${words})` : 'an empty answer';
  }
  const message = (answer.body as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : 'no message';
}

/** A sync-file duration (10m, 4s) for a number of milliseconds. */
export function durationText(ms: number): string {
  const seconds = Math.round(ms / 1000);
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** What went wrong on the network, in the sync file's terms where it can. */
export function describeNetworkError(error: Error & { code?: string }, timeoutMs: number): string {
  if (error.code === 'UND_ERR_HEADERS_TIMEOUT' || error.code === 'UND_ERR_BODY_TIMEOUT') {
    return `no answer within ${timeoutMs / 1000}s (destination.timeout)`;
  }
  return error.message;
}
