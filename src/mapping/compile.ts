// Compiles a sync's match and mappings once into a fast row -> event function.
// Pure: no I/O, no clock except the one passed in.
import { HASHED_USER_KEYS, type UserKey } from '../core/event-schema.js';
import type { MappingSpec, SyncDefinition } from '../config/schema.js';
import { parseDuration } from '../config/duration.js';
import { suggest } from '../core/suggest.js';
import { EVENT_FIELDS, fieldConverter, type FieldSpec } from '../core/fields.js';
import { Invalid, toText, type Converted } from '../core/convert.js';
import type { Row } from '../core/types.js';
import { NORMALIZERS, type NormalizeContext, type Normalizer } from './normalize.js';
import { isSha256Hex, sha256Hex } from './hash.js';
import { isPlainText, jsonValue } from './json.js';

export type { Row } from '../core/types.js';
export type Event = Record<string, unknown>;

/** Why a row cannot become an event. Never carries a raw identifier. */
export interface Reason {
  /** The event field at fault, e.g. `event_time` or `user_data`. */
  field: string;
  /** What is wrong, the same for every row with this fault (used to group the summary). */
  problem: string;
  /** Row-specific detail, safe to print. */
  detail?: string;
}

/** A row the sync file's `skip:` leaves out on purpose: neither an event nor a reject. */
export interface Skipped { json?: undefined; event?: undefined; reasons?: undefined; skipped: true }
const SKIPPED: Skipped = { skipped: true };

export type MapOutcome = { event: Event; reasons?: undefined; skipped?: undefined } | { event?: undefined; reasons: Reason[]; skipped?: undefined } | Skipped;
/** The event as JSON text, what is sent; or why the row cannot become one; or that it is skipped. */
export type EncodeOutcome = { json: string; eventId: string; reasons?: undefined; skipped?: undefined } | { json?: undefined; reasons: Reason[]; skipped?: undefined } | Skipped;

export interface Mapper {
  /** The columns a row must carry, in order: the sync's referenced columns, spelled as the source spells them. */
  readonly columns: readonly string[];
  /** The event as JSON text: the hot path of a run. */
  encode(row: Row): EncodeOutcome;
  /** The event as an object (the parsed text of `encode`), for tests and tools that look inside it. */
  map(row: Row): MapOutcome;
  /** The row's primary key as text, to name it in rejects. */
  keyOf(row: Row): string;
  /** Identifier values dropped as unusable (the event may still be sent), by user_data key. */
  readonly droppedIdentifiers: Map<UserKey, number>;
}

/** A problem in the sync file found while compiling against the source's columns. */
export interface CompileProblem {
  path: (string | number)[];
  message: string;
}

export interface CompileOptions {
  /** Columns the source has; when given, every referenced column must be one of them. */
  available?: readonly string[];
  /** Clock in milliseconds, for the event-time window. */
  now?: () => number;
}

interface FieldPlan {
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

interface IdentifierPlan {
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

/**
 * What the last value written left open, for the next piece to close: a string's closing quote,
 * or a digest list's `"]`. Written together with the next member's start, they make one piece
 * instead of two (an event is built from fewer strings: less to allocate and to flatten).
 */
const enum Open { Nothing = 0, Quote = 1, List = 2 }
const CLOSES = ['', '"', '"]'] as const;
const OBJECT_END = CLOSES.map((close) => `${close}}`);

/**
 * Text that starts an object member, as the first member and after another (with its comma,
 * preceded by what the member before left open, by `Open`): chosen whole, an event's text is
 * built from fewer pieces (each piece is an allocation).
 */
interface MemberStart {
  first: string;
  next: readonly string[];
}

const memberStart = (text: string): MemberStart => ({ first: text, next: CLOSES.map((close) => `${close},${text}`) });
const USER_DATA = memberStart('"user_data":');

const GROUPS = new Set(['custom_data', 'app_info', 'device_info']);
const FIRST_FIELDS = ['event_name', 'action_source', 'event_time', 'event_id'];
const ALL_REQUIRED = (1 << FIRST_FIELDS.length) - 1;
// Keys that can match an event alone; otherwise it needs both client_ip_address and client_user_agent.
const MATCHING_KEYS: ReadonlySet<UserKey> = new Set(['em', 'hashed_maids']);
const FUTURE_SKEW_SECONDS = 300;
// Keys whose values repeat across rows (genders, states, countries, cities, first and last
// names), and how many values to remember per key: the most common arrive first.
const MEMOIZED_KEYS: readonly UserKey[] = ['ge', 'st', 'country', 'ct', 'fn', 'ln'];
const MEMO_LIMIT = 4096;

/** The parts of a sync the mapper is built from (no connection details, no token). */
export type MappingDefinition = Pick<SyncDefinition, 'mappings' | 'match' | 'options' | 'skip'> & { source: Pick<SyncDefinition['source'], 'primary_key'> };

export function mappingDefinition(sync: SyncDefinition): MappingDefinition {
  return { mappings: sync.mappings, match: sync.match, options: sync.options, skip: sync.skip, source: { primary_key: sync.source.primary_key } };
}

/** Whether a row is left out by the sync file's `skip:`: a column's value (as text, trimmed) in its list. */
function compileSkip(skip: MappingDefinition['skip'], column: (name: string, path: (string | number)[]) => number): ((row: Row) => boolean) | undefined {
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

export function compileMapper(sync: MappingDefinition, options: CompileOptions = {}): { mapper?: Mapper; problems: CompileProblem[] } {
  const problems: CompileProblem[] = [];
  const available = options.available;
  const byLowerCase = available ? new Map(available.map((c) => [c.toLowerCase(), c])) : undefined;
  const exact = available ? new Set(available) : undefined;
  const layout: string[] = [];
  const indexOf = new Map<string, number>();
  // Each missing column is reported once, where it is first named.
  const missingColumns = new Set<string>();

  // A column of the sync file to its index in the row, spelled as the source spells it (case-insensitively).
  const column = (name: string, path: (string | number)[]): number => {
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
  const skipped = compileSkip(sync.skip, column);
  // Columns declared to hold SHA-256 hex may be sent in clear: each value is checked, per row.
  const declaredHex = new Set((sync.options.hashed_columns ?? []).map((c) => c.toLowerCase()));
  const hexOnly = (name: string) => declaredHex.has(name.toLowerCase());
  const primaryKeyHex = hexOnly(sync.source.primary_key);

  const mappings: Record<string, MappingSpec> = { ...sync.mappings };
  mappings.event_id ??= sync.source.primary_key;

  // A group's fields are consecutive plans (the catalog lists each group whole): one object each.
  const plans: FieldPlan[] = [];
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
    plans.push({
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

  if (problems.length > 0) return { problems };

  const maxAgeSeconds = parseDuration(sync.options.max_event_age);
  const now = options.now ?? Date.now;
  const droppedIdentifiers = new Map<UserKey, number>();
  const drop = (key: UserKey) => droppedIdentifiers.set(key, (droppedIdentifiers.get(key) ?? 0) + 1);

  // One context reused for every row; the row's country is looked up only when a phone needs it.
  const countryPlan = identifiers.find((p) => p.key === 'country');
  let currentRow: Row = [];
  // A country column holds a few spellings ("US", "usa", "United States"): each is looked up once.
  const countryOf = new Map<string, string | undefined>();
  const ctx: NormalizeContext = {
    defaultCountry: sync.options.default_country,
    rowCountry: countryPlan
      ? () => {
        for (const col of countryPlan.columns) {
          const raw = currentRow[col];
          let code: string | undefined;
          if (typeof raw !== 'string') code = NORMALIZERS.country(raw, {});
          else if (countryOf.has(raw)) code = countryOf.get(raw);
          else {
            code = NORMALIZERS.country(raw, {});
            if (countryOf.size < MEMO_LIMIT) countryOf.set(raw, code);
          }
          if (code) return code;
        }
        return undefined;
      }
      : undefined,
  };

  // A value's digest; undefined when it is blank (absent), null when it is unusable.
  const digestOf = (plan: IdentifierPlan, value: unknown): string | null | undefined => {
    if (typeof value === 'string' && value.length >= 64) {
      const trimmed = value.trim();
      if (isSha256Hex(trimmed)) return trimmed.toLowerCase();
    }
    const normalized = plan.normalize(value, ctx);
    if (normalized !== undefined) return sha256Hex(normalized);
    return typeof value === 'string' && value.trim() === '' ? undefined : null;
  };

  // One value's digest, remembered for the low-cardinality keys; undefined when the value is
  // absent or left out (then counted as dropped).
  const usableDigest = (plan: IdentifierPlan, value: unknown): string | undefined => {
    if (value === null || value === undefined || value === '') return undefined;
    const memo = typeof value === 'string' ? plan.memo : undefined;
    let digest = memo?.get(value as string);
    if (digest === undefined) {
      digest = digestOf(plan, value);
      if (memo && digest !== undefined && memo.size < MEMO_LIMIT) memo.set(value as string, digest);
    }
    if (digest === null) {
      drop(plan.key);
      return undefined;
    }
    return digest;
  };

  // Adds one value's digest to a key's list, or counts it as left out.
  const addDigest = (hashes: string[] | undefined, plan: IdentifierPlan, value: unknown): string[] | undefined => {
    const digest = usableDigest(plan, value);
    if (digest === undefined) return hashes;
    if (!hashes) return [digest];
    if (!hashes.includes(digest)) hashes.push(digest);
    return hashes;
  };

  // What the last user_data written held, for the check that an event can be matched (set by
  // userDataJson, read by encode right after: encode is synchronous, never re-entered).
  let matchable = false;

  const userDataJson = (row: Row): string => {
    currentRow = row;
    let json = '{';
    let open = Open.Nothing;
    let hasIp = false;
    let hasAgent = false;
    matchable = false;
    for (const plan of identifiers) {
      if (!plan.hashed) {
        const normalize = plan.normalize;
        for (const col of plan.columns) {
          const raw = row[col];
          if (raw === null || raw === undefined || raw === '') continue;
          const value = normalize(Array.isArray(raw) ? raw[0] : raw, ctx);
          if (value === undefined) drop(plan.key);
          else {
            if (isPlainText(value)) {
              json += (json.length > 1 ? plan.quotedStart.next[open]! : plan.quotedStart.first) + value;
              open = Open.Quote;
            } else {
              json += (json.length > 1 ? plan.start.next[open]! : plan.start.first) + JSON.stringify(value);
              open = Open.Nothing;
            }
            if (plan.key === 'client_ip_address') hasIp = true;
            else if (plan.key === 'client_user_agent') hasAgent = true;
            else if (MATCHING_KEYS.has(plan.key)) matchable = true;
            break;
          }
        }
        continue;
      }
      // Digests are lowercase hex: nothing in them needs escaping.
      if (plan.columns.length === 1 && !Array.isArray(row[plan.columns[0]!])) {
        // One column, one value: the common case, without a list.
        const digest = usableDigest(plan, row[plan.columns[0]!]);
        if (digest === undefined) continue;
        json += (json.length > 1 ? plan.start.next[open]! : plan.start.first) + digest;
        open = Open.List;
        if (MATCHING_KEYS.has(plan.key)) matchable = true;
        continue;
      }
      let hashes: string[] | undefined;
      for (const col of plan.columns) {
        const raw = row[col];
        if (raw === null || raw === undefined) continue;
        if (Array.isArray(raw)) for (const one of raw) hashes = addDigest(hashes, plan, one);
        else hashes = addDigest(hashes, plan, raw);
      }
      if (!hashes) continue;
      json += (json.length > 1 ? plan.start.next[open]! : plan.start.first) + hashes.join('","');
      open = Open.List;
      if (MATCHING_KEYS.has(plan.key)) matchable = true;
    }
    if (hasIp && hasAgent) matchable = true;
    return json + OBJECT_END[open]!;
  };

  const encode = (row: Row): EncodeOutcome => {
    if (skipped?.(row)) return SKIPPED;
    let reasons: Reason[] | undefined;
    const fail = (reason: Reason) => {
      (reasons ??= []).push(reason);
    };
    let json = '{';
    let open = Open.Nothing;
    // The group whose object is open, and whether it has a field yet.
    let openGroup: string | undefined;
    let groupEmpty = true;
    let eventId: string | undefined;
    let eventTime: unknown;
    let present = 0;
    let userDataPlaced = false;
    for (const plan of plans) {
      if (!userDataPlaced && plan.requiredBit === 0) {
        json += (json.length > 1 ? USER_DATA.next[open]! : USER_DATA.first) + userDataJson(row);
        open = Open.Nothing;
        userDataPlaced = true;
      }
      const value = plan.read(row);
      if (value === undefined) continue;
      if (value instanceof Invalid) {
        fail({ field: plan.path, problem: 'invalid value', detail: value.message });
        continue;
      }
      if (plan.requiredBit !== 0) {
        present |= plan.requiredBit;
        if (plan.path === 'event_id') eventId = String(value);
        else if (plan.path === 'event_time') eventTime = value;
      }
      if (reasons) continue;
      if (plan.group !== openGroup) {
        if (openGroup) {
          json += OBJECT_END[open]!;
          open = Open.Nothing;
        }
        if (plan.group) {
          json += json.length > 1 ? plan.groupStart.next[open]! : plan.groupStart.first;
          open = Open.Nothing;
          groupEmpty = true;
        }
        openGroup = plan.group;
      }
      const first = openGroup ? groupEmpty : json.length === 1;
      groupEmpty = false;
      if (plan.literal) {
        json += first ? plan.literal.first : plan.literal.next[open]!;
        open = Open.Nothing;
      } else if (typeof value === 'string' && isPlainText(value)) {
        json += (first ? plan.quotedName.first : plan.quotedName.next[open]!) + value;
        open = Open.Quote;
      } else {
        json += (first ? plan.name.first : plan.name.next[open]!) + jsonValue(value);
        open = Open.Nothing;
      }
    }
    if (openGroup) {
      json += OBJECT_END[open]!;
      open = Open.Nothing;
    }
    if (!userDataPlaced) {
      json += (json.length > 1 ? USER_DATA.next[open]! : USER_DATA.first) + userDataJson(row);
      open = Open.Nothing;
    }

    if (present !== ALL_REQUIRED) {
      FIRST_FIELDS.forEach((required, i) => {
        if ((present & (1 << i)) === 0 && !reasons?.some((r) => r.field === required)) {
          fail({ field: required, problem: 'missing (null or blank in the source)' });
        }
      });
    }
    if (primaryKeyHex && notHex(row[primaryKey])) fail({ field: 'source.primary_key', problem: NOT_HEX.message });
    if (!matchable) {
      fail({ field: 'user_data', problem: 'no usable identifier (needs em, hashed_maids, or client_ip_address with client_user_agent)' });
    }
    if (typeof eventTime === 'number') {
      const nowSeconds = Math.floor(now() / 1000);
      if (eventTime > nowSeconds + FUTURE_SKEW_SECONDS) fail({ field: 'event_time', problem: 'in the future' });
      else if (eventTime < nowSeconds - maxAgeSeconds) fail({ field: 'event_time', problem: `older than options.max_event_age (${sync.options.max_event_age})` });
    }
    return reasons ? { reasons } : { json: json + OBJECT_END[open]!, eventId: eventId! };
  };

  const map = (row: Row): MapOutcome => {
    const outcome = encode(row);
    return outcome.json === undefined ? outcome : { event: JSON.parse(outcome.json) as Event };
  };

  const keyOf = (row: Row): string => {
    // A declared digest that is not one may be an email: never shown.
    if (primaryKeyHex && notHex(row[primaryKey])) return '(not SHA-256 hex)';
    const key = toText(row[primaryKey]);
    return typeof key === 'string' ? key : '(no primary key)';
  };

  return { mapper: { columns: layout, encode, map, keyOf, droppedIdentifiers }, problems };
}

const NOT_HEX = new Invalid('a column in options.hashed_columns holds a value that is not SHA-256 hex');

/** Whether a value of a column declared to hold SHA-256 hex is something else (absent is fine). */
function notHex(value: unknown): boolean {
  if (value === null || value === undefined || value === '') return false;
  return !(typeof value === 'string' && isSha256Hex(value.trim()));
}

function compileField(
  field: FieldSpec,
  spec: MappingSpec,
  path: (string | number)[],
  column: (name: string, path: (string | number)[]) => number,
  hexOnly: (name: string) => boolean,
): (row: Row) => Converted<unknown> {
  const read = compileRead(field, spec, path, column);
  if (typeof spec === 'object' && 'value' in spec) return read;
  const name = typeof spec === 'string' ? spec : spec.column;
  if (!hexOnly(name)) return read;
  const col = column(name, path);
  return (row) => (notHex(row[col]) ? NOT_HEX : read(row));
}

function compileRead(
  field: FieldSpec,
  spec: MappingSpec,
  path: (string | number)[],
  column: (name: string, path: (string | number)[]) => number,
): (row: Row) => Converted<unknown> {
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
