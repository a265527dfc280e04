// Conversion of source values to the API's types. Converters return the value, or an
// Invalid carrying a message that never contains a raw value unless it is safe to show.
import type { FieldKind } from './event-schema.js';
import { suggest } from './suggest.js';
import { isSafeToShow } from './redact.js';

/** Source value as trimmed text; undefined for null, blank, or non-scalar values. */
export function scalarText(raw: unknown): string | undefined {
  let text: string;
  if (typeof raw === 'string') text = raw;
  else if (typeof raw === 'number') text = Number.isFinite(raw) ? String(raw) : '';
  else if (typeof raw === 'bigint') text = raw.toString();
  else return undefined;
  // Most values have nothing to trim: an ASCII character other than a space or a control at
  // each end means trim() would return the same text (it removes only whitespace and line
  // terminators, all of them at or below 0x20 or above 0x7f).
  const first = text.charCodeAt(0);
  const last = text.charCodeAt(text.length - 1);
  if (!(first > 0x20 && first < 0x7f && last > 0x20 && last < 0x7f)) text = text.trim();
  return text === '' ? undefined : text;
}

export class Invalid {
  constructor(readonly message: string) {}
}

export type Converted<T> = T | Invalid | undefined;

/**
 * A short rendering of a value for messages. Anything that could be a personal
 * identifier (an @, a long run of digits, long text) is described, not shown.
 */
export function describeValue(value: unknown): string {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid date' : 'a date';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (value !== null && typeof value === 'object') return 'an object';
  const text = String(value);
  if (isSafeToShow(text)) return `'${text}'`;
  return `a ${typeof value === 'string' ? `${text.length}-character text` : typeof value}`;
}

const DECIMAL_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)$/;

export function toDecimalString(value: unknown): Converted<string> {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return new Invalid(`${describeValue(value)} is not a finite number`);
    const text = String(value);
    // Shortest round-trip form keeps 19.99 as "19.99"; expand exponents, which the API does not take.
    return /e/i.test(text)
      ? value.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 20 })
      : text;
  }
  if (typeof value === 'bigint') return value.toString();
  const text = scalarText(value);
  if (text === undefined) return value === null || value === undefined || typeof value === 'string' ? undefined : new Invalid(`${describeValue(value)} is not a decimal number`);
  if (!DECIMAL_TEXT.test(text)) return new Invalid(`${describeValue(value)} is not a decimal number`);
  let out = text.startsWith('+') ? text.slice(1) : text;
  if (out.startsWith('.')) out = `0${out}`;
  else if (out.startsWith('-.')) out = `-0${out.slice(1)}`;
  if (out.endsWith('.')) out = out.slice(0, -1);
  return out;
}

export function toInteger(value: unknown): Converted<number> {
  if (value === null || value === undefined) return undefined;
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'bigint') n = Number(value);
  else {
    const text = scalarText(value);
    if (text === undefined) return typeof value === 'string' ? undefined : new Invalid(`${describeValue(value)} is not a whole number`);
    if (!/^[+-]?\d+(?:\.0*)?$/.test(text)) return new Invalid(`${describeValue(value)} is not a whole number`);
    n = Number(text);
  }
  if (!Number.isSafeInteger(n)) return new Invalid(`${describeValue(value)} is not a whole number`);
  return n;
}

const TRUE_WORDS = new Set(['true', 't', 'yes', 'y', '1']);
const FALSE_WORDS = new Set(['false', 'f', 'no', 'n', '0']);

export function toBoolean(value: unknown): Converted<boolean> {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'boolean') return value;
  const text = scalarText(value)?.toLowerCase();
  if (text === undefined) return typeof value === 'string' ? undefined : new Invalid(`${describeValue(value)} is not true or false`);
  if (TRUE_WORDS.has(text)) return true;
  if (FALSE_WORDS.has(text)) return false;
  return new Invalid(`${describeValue(value)} is not true or false`);
}

function secondsFromNumber(n: number): number {
  const abs = Math.abs(n);
  // Magnitude tells the unit: seconds until year 5138, then milliseconds, then microseconds.
  if (abs < 1e11) return Math.floor(n);
  if (abs < 1e14) return Math.floor(n / 1e3);
  return Math.floor(n / 1e6);
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_DATETIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** A timestamp, date, ISO text, or unix seconds/milliseconds to integer unix seconds (UTC), from 1970 on. */
export function toUnixSeconds(value: unknown): Converted<number> {
  const seconds = unixSeconds(value);
  // Huge numbers would be sent as null, and the API takes no time before 1970.
  if (typeof seconds === 'number' && (!Number.isSafeInteger(seconds) || seconds < 0)) {
    return new Invalid(`${describeValue(value)} is out of range for a time (before 1970, or too large)`);
  }
  return seconds;
}

function unixSeconds(value: unknown): Converted<number> {
  if (value === null || value === undefined) return undefined;
  if (value instanceof Date) {
    const ms = value.getTime();
    return Number.isNaN(ms) ? new Invalid('an invalid date') : Math.floor(ms / 1000);
  }
  if (typeof value === 'number') return Number.isFinite(value) ? secondsFromNumber(value) : new Invalid(`${describeValue(value)} is not a time`);
  if (typeof value === 'bigint') return secondsFromNumber(Number(value));
  const text = scalarText(value);
  if (text === undefined) return typeof value === 'string' ? undefined : new Invalid(`${describeValue(value)} is not a time`);
  const compactDate = /^(\d{4})(\d{2})(\d{2})$/.exec(text);
  // Eight digits are a YYYYMMDD date (as unix seconds they would be in 1970).
  if (compactDate) return dateSeconds(`${compactDate[1]}-${compactDate[2]}-${compactDate[3]}`, '00:00:00', 'Z') ?? secondsFromNumber(Number(text));
  if (/^\d+(\.\d+)?$/.test(text)) return secondsFromNumber(Number(text));
  let seconds: number | undefined;
  if (ISO_DATE.test(text)) seconds = dateSeconds(text, '00:00:00', 'Z');
  else {
    const m = ISO_DATETIME.exec(text);
    if (m) {
      let zone = m[3] ?? 'Z';
      if (/^[+-]\d{2}$/.test(zone)) zone += ':00';
      else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
      seconds = dateSeconds(m[1]!, m[2]!, zone.toUpperCase());
    }
  }
  return seconds ?? new Invalid(`${describeValue(value)} is not a timestamp, ISO 8601 text, or unix time`);
}

/** Unix seconds of a date and time, or undefined for impossible dates (2026-02-30 does not roll over). */
function dateSeconds(date: string, time: string, zone: string): number | undefined {
  const [year, month, day] = date.split('-').map(Number) as [number, number, number];
  const check = new Date(Date.UTC(year, month - 1, day));
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return undefined;
  const ms = Date.parse(`${date}T${time}${zone}`);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

export function toText(value: unknown): Converted<string> {
  if (value === null || value === undefined) return undefined;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? new Invalid('an invalid date') : value.toISOString();
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'object') return new Invalid(`${describeValue(value)} is not text`);
  return scalarText(value);
}

function parseJsonArray(text: string): unknown[] | Invalid {
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed : new Invalid('JSON text is not an array');
  } catch {
    return new Invalid('text is neither a JSON array nor a comma-separated list');
  }
}

/** An array, a JSON array text, or a comma-separated list to a list of strings. */
export function toTextList(value: unknown): Converted<string[]> {
  if (value === null || value === undefined) return undefined;
  let items: unknown[];
  if (Array.isArray(value)) items = value;
  else {
    const text = scalarText(value);
    if (text === undefined) return typeof value === 'string' ? undefined : new Invalid(`${describeValue(value)} is not a list`);
    if (text.startsWith('[')) {
      const parsed = parseJsonArray(text);
      if (parsed instanceof Invalid) return parsed;
      items = parsed;
    } else items = text.split(',');
  }
  const out: string[] = [];
  for (const item of items) {
    const text = scalarText(item);
    if (text !== undefined) out.push(text);
  }
  return out.length > 0 ? out : undefined;
}

/** An array of objects (a LIST of STRUCT, a JSON column, or JSON text) to a list of objects. */
export function toObjectList(value: unknown): Converted<Record<string, unknown>[]> {
  if (value === null || value === undefined) return undefined;
  let items: unknown;
  if (typeof value === 'string') {
    if (value.trim() === '') return undefined;
    items = parseJsonArray(value.trim());
    if (items instanceof Invalid) return items;
  } else items = value;
  if (!Array.isArray(items)) return new Invalid(`${describeValue(value)} is not a list of items`);
  for (const item of items) {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      return new Invalid('every item must be an object');
    }
  }
  return items.length > 0 ? (items as Record<string, unknown>[]) : undefined;
}

/** The allowed value a mistaken one most likely means: another platform's name for it, or a close spelling. */
function nearestValue(text: string, allowed: readonly string[], aliases?: ReadonlyMap<string, string>): string | undefined {
  const squeezed = text.toLowerCase().replace(/[_\s-]/g, '');
  return aliases?.get(squeezed) ?? allowed.find((a) => a.replace(/_/g, '') === squeezed) ?? suggest(text.toLowerCase(), allowed);
}

/**
 * One of the allowed values, case-insensitively. `list` names them all in the message (for the
 * sync file's literals; a row's reject stays short).
 */
export function toEnum(value: unknown, allowed: readonly string[], options: { aliases?: ReadonlyMap<string, string>; list?: boolean } = {}): Converted<string> {
  if (value === null || value === undefined) return undefined;
  const text = scalarText(value);
  if (text === undefined) return typeof value === 'string' ? undefined : new Invalid(`${describeValue(value)} is not text`);
  const lower = text.toLowerCase();
  if (allowed.includes(lower)) return lower;
  const hint = nearestValue(text, allowed, options.aliases);
  const which = options.list ? `one of ${allowed.join(', ')}` : `one of ${allowed.length} allowed values`;
  return new Invalid(`${describeValue(value)} is not ${which}${hint ? `; did you mean '${hint}'?` : ''}`);
}

let currencies: ReadonlySet<string> | undefined;

/**
 * An ISO 4217 currency code, uppercased. The codes are Node's (ICU's) list of currencies in
 * use, so the list stays current without a table of our own.
 */
export function toCurrency(value: unknown): Converted<string> {
  if (value === null || value === undefined) return undefined;
  const text = scalarText(value);
  if (text === undefined) return typeof value === 'string' ? undefined : new Invalid(`${describeValue(value)} is not a currency code`);
  const code = text.toUpperCase();
  currencies ??= new Set(Intl.supportedValuesOf('currency'));
  if (currencies.has(code)) return code;
  return new Invalid(`${describeValue(value)} is not an ISO 4217 currency code such as USD or EUR`);
}

/** The converter for each scalar kind ('enum' and 'contents' need more context and are built by the compiler). */
export const SCALAR_CONVERTERS: Record<Exclude<FieldKind, 'enum' | 'contents'>, (v: unknown) => Converted<unknown>> = {
  string: toText,
  integer: toInteger,
  decimal: toDecimalString,
  boolean: toBoolean,
  unix_seconds: toUnixSeconds,
  string_list: toTextList,
};
