// The plan of a mapper: which columns a row carries (in order), which event fields are written
// from which columns, and which identifiers. Column names are checked against the source here.
import { HASHED_USER_KEYS, type UserKey } from '../core/event-schema.js';
import type { MappingSpec } from '../config/schema.js';
import { suggest } from '../core/suggest.js';
import { EVENT_FIELDS, fieldConverter, REQUIRED_EVENT_FIELDS, type FieldSpec } from '../core/fields.js';
import {
  Invalid, type Converted,
} from '../core/convert.js';
import { NORMALIZERS, type Normalizer } from './normalize.js';
import { isSha256Hex } from './hash.js';
import { jsonValue } from './json.js';
import type { CompileProblem, MappingDefinition, Row } from './compile.js';

export interface FieldPlan {
  group: string | undefined;
  path: string;
  /** For the fields written before user_data (the required ones), a bit of its own; else 0. */
  requiredBit: number;
  /** What is written before the value: `"name":`, as the first member of its object and after another. */
  name: MemberStart;
  /** The same with the opening quote of a string value that needs no escaping: `"name":"`. */
  quotedName: MemberStart;
  /** For a field of a group, what opens the group: `"group":{`. */
  groupStart: MemberStart;
  read: (row: Row) => Converted<unknown>;
  /** For a literal (`value:`), the whole member (`"name":value`), written once here instead of on every row. */
  literal: MemberStart | undefined;
}

export interface IdentifierPlan {
  key: UserKey;
  /** `"key":` for a plain key, `"key":["` for a hashed one (its digests are a list). */
  start: MemberStart;
  /** For a plain key, `"key":"`: the start of a string value that needs no escaping. */
  quotedStart: MemberStart;
  columns: number[];
  hashed: boolean;
  /** The key's normalizer, looked up once here rather than by key on every row. */
  normalize: Normalizer;
  /** For the low-cardinality keys, digests by source value. */
  memo: Map<string, string | null> | undefined;
}

export interface MappingPlan {
  /** The columns a row carries, in order, spelled as the source spells them. */
  columns: string[];
  /** The primary key's index in a row. */
  primaryKey: number;
  /** Whether the primary key column is declared to hold SHA-256 hex. */
  primaryKeyHex: boolean;
  /** Whether the sync file's `skip:` leaves a row out. */
  skip: ((row: Row) => boolean) | undefined;
  /** Event fields in the order they are written; a group's fields are consecutive. */
  fields: FieldPlan[];
  identifiers: IdentifierPlan[];
  problems: CompileProblem[];
}


/**
 * What the last value written left open, for the next piece to close: nothing, a string's
 * closing quote, or a digest list's `"]`. Written with the next member's start, they make one
 * piece instead of two: an event is built from fewer strings (each one an allocation; kept on
 * measurement, docs/adr/0002-event-json-by-hand.md).
 */
export type Open = 0 | 1 | 2;
export const OPEN_NOTHING = 0;
export const OPEN_QUOTE = 1;
export const OPEN_LIST = 2;
const CLOSES = ['', '"', '"]'] as const;
/** What ends an object, by what the last value left open. */
export const OBJECT_END = CLOSES.map((close) => `${close}}`);

/** Text that starts an object member, as the first member and after another (by what the one before left open). */
export interface MemberStart {
  first: string;
  next: readonly string[];
}

export const memberStart = (text: string): MemberStart => ({ first: text, next: CLOSES.map((close) => `${close},${text}`) });

export const GROUPS = new Set(['custom_data', 'app_info', 'device_info']);
/** The required fields, written first, each with a bit of its own (FieldPlan.requiredBit). */
export const FIRST_FIELDS: readonly string[] = REQUIRED_EVENT_FIELDS;
// Keys whose values repeat across rows (genders, states, countries, cities, first and last
// names), and how many values to remember per key: the most common arrive first.
const MEMOIZED_KEYS: readonly UserKey[] = ['ge', 'st', 'country', 'ct', 'fn', 'ln'];
export const MEMO_LIMIT = 4096;

type ColumnAt = (name: string, path: (string | number)[]) => number;

/** Whether a row is left out by the sync file's `skip:`: a column's value (as text, trimmed) in its list. */
function compileSkip(skip: MappingDefinition['skip'], column: ColumnAt): ((row: Row) => boolean) | undefined {
  if (!skip) return undefined;
  const rules = Object.entries(skip).map(([name, values]) => ({
    at: column(name, ['skip', name]),
    texts: new Set(values.filter((v) => v !== null).map((v) => String(v).trim())),
    nulls: values.includes(null),
  }));
  return (row) => rules.some(({ at, texts, nulls }) => {
    const value = row[at];
    return value === null || value === undefined ? nulls : texts.has(String(value).trim());
  });
}

export const NOT_HEX = new Invalid('a column in options.hashed_columns holds a value that is not SHA-256 hex');

/** Whether a value of a column declared to hold SHA-256 hex is something else (absent is fine). */
export function notHex(value: unknown): boolean {
  if (value === null || value === undefined || value === '') return false;
  return !(typeof value === 'string' && isSha256Hex(value.trim()));
}

export function planMapping(sync: MappingDefinition, available?: readonly string[]): MappingPlan {
  const problems: CompileProblem[] = [];
  const byLowerCase = available ? new Map(available.map((c) => [c.toLowerCase(), c])) : undefined;
  const exact = available ? new Set(available) : undefined;
  const layout: string[] = [];
  const indexOf = new Map<string, number>();
  // Each missing column is reported once, where it is first named.
  const missingColumns = new Set<string>();

  // A column of the sync file to its index in the row, spelled as the source spells it (case-insensitively).
  const column: ColumnAt = (name, path) => {
    let actual = name;
    if (exact && !exact.has(name)) {
      const found = byLowerCase!.get(name.toLowerCase());
      if (found) actual = found;
      else if (!missingColumns.has(name)) {
        missingColumns.add(name);
        const hint = suggest(name, available!);
        problems.push({ path, message: `column '${name}' is not in the source${hint ? `; did you mean '${hint}'?` : ''}` });
      }
    }
    let index = indexOf.get(actual);
    if (index === undefined) {
      index = layout.push(actual) - 1;
      indexOf.set(actual, index);
    }
    return index;
  };

  const primaryKey = column(sync.source.primary_key, ['source', 'primary_key']);
  const skip = compileSkip(sync.skip, column);
  // Columns declared to hold SHA-256 hex may be sent in clear: each value is checked, per row.
  const declaredHex = new Set((sync.options.hashed_columns ?? []).map((c) => c.toLowerCase()));
  const hexOnly = (name: string) => declaredHex.has(name.toLowerCase());

  const mappings: Record<string, MappingSpec> = { ...sync.mappings };
  mappings.event_id ??= sync.source.primary_key;

  const fields: FieldPlan[] = [];
  const order = [...FIRST_FIELDS, ...[...EVENT_FIELDS.keys()].filter((k) => !FIRST_FIELDS.includes(k))];
  for (const path of order) {
    const spec = mappings[path];
    if (spec === undefined) continue;
    const field = EVENT_FIELDS.get(path)!;
    const dot = path.indexOf('.');
    const group = dot > 0 && GROUPS.has(path.slice(0, dot)) ? path.slice(0, dot) : undefined;
    const name = group ? path.slice(dot + 1) : path;
    const read = compileField(field, spec, ['mappings', path], column, hexOnly);
    const literal = typeof spec === 'object' && 'value' in spec ? read([]) : undefined;
    const nameJson = `${JSON.stringify(name)}:`;
    fields.push({
      group, path, requiredBit: FIRST_FIELDS.includes(path) ? 1 << FIRST_FIELDS.indexOf(path) : 0,
      name: memberStart(nameJson), quotedName: memberStart(`${nameJson}"`), groupStart: memberStart(`${JSON.stringify(group ?? '')}:{`), read,
      literal: literal === undefined || literal instanceof Invalid ? undefined : memberStart(nameJson + jsonValue(literal)),
    });
  }

  const identifiers: IdentifierPlan[] = [];
  for (const [key, cols] of Object.entries(sync.match) as [UserKey, string | string[] | undefined][]) {
    if (cols === undefined) continue;
    const list = Array.isArray(cols) ? cols : [cols];
    const hashed = (HASHED_USER_KEYS as readonly string[]).includes(key);
    identifiers.push({
      key,
      start: memberStart(`${JSON.stringify(key)}:${hashed ? '["' : ''}`),
      quotedStart: memberStart(`${JSON.stringify(key)}:"`),
      columns: list.map((c, i) => column(c, Array.isArray(cols) ? ['match', key, i] : ['match', key])),
      hashed,
      normalize: NORMALIZERS[key],
      // Keys whose values repeat across rows remember their digests.
      memo: MEMOIZED_KEYS.includes(key) ? new Map() : undefined,
    });
  }

  return { columns: layout, primaryKey, primaryKeyHex: hexOnly(sync.source.primary_key), skip, fields, identifiers, problems };
}

function compileField(field: FieldSpec, spec: MappingSpec, path: (string | number)[], column: ColumnAt, hexOnly: (name: string) => boolean): (row: Row) => Converted<unknown> {
  const read = compileRead(field, spec, path, column);
  if (typeof spec === 'object' && 'value' in spec) return read;
  const name = typeof spec === 'string' ? spec : spec.column;
  if (!hexOnly(name)) return read;
  const col = column(name, path);
  return (row) => (notHex(row[col]) ? NOT_HEX : read(row));
}

function compileRead(field: FieldSpec, spec: MappingSpec, path: (string | number)[], column: ColumnAt): (row: Row) => Converted<unknown> {
  if (typeof spec === 'string') {
    const convert = fieldConverter(field);
    const col = column(spec, path);
    return (row) => convert(row[col]);
  }
  if ('value' in spec) {
    // Literals were checked when the file was validated; convert them once.
    const constant = fieldConverter(field)(spec.value);
    return () => constant;
  }
  const convert = fieldConverter(field, spec.fields);
  const col = column(spec.column, [...path, 'column']);
  const fallback = spec.default;
  const table = spec.map ? new Map(Object.entries(spec.map)) : undefined;
  if (!table) return (row) => convert(row[col] ?? fallback);
  return (row) => {
    const raw = row[col];
    if (raw === null || raw === undefined) return convert(fallback);
    const mapped = table.get(String(raw).trim());
    if (mapped === null) return undefined;
    return convert(mapped ?? fallback ?? raw);
  };
}
