// Compiles a sync's match and mappings once into a fast row -> event function.
// Pure: no I/O, no clock except the one passed in.
// The parts: plan.ts (which columns, which fields and identifiers), identifiers.ts (normalize
// and hash, as user_data text), event-writer.ts (the event's JSON text).
import type { UserKey } from '../core/event-schema.js';
import type { SyncDefinition } from '../config/schema.js';
import { toText } from '../core/convert.js';
import { eventWriter } from './event-writer.js';
import { UserDataWriter } from './identifiers.js';
import { notHex, planMapping } from './plan.js';

import type { Row } from '../core/types.js';

export type { Row };
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

/** The parts of a sync the mapper is built from (no connection details, no token). */
export type MappingDefinition = Pick<SyncDefinition, 'mappings' | 'match' | 'options' | 'skip'> & { source: Pick<SyncDefinition['source'], 'primary_key'> };

export function mappingDefinition(sync: SyncDefinition): MappingDefinition {
  return { mappings: sync.mappings, match: sync.match, options: sync.options, skip: sync.skip, source: { primary_key: sync.source.primary_key } };
}

/** A row's primary key as text, for rejects: never a value that may be an identifier. */
export function primaryKeyReader(primaryKey: number, primaryKeyHex: boolean): (row: Row) => string {
  return (row) => {
    // A declared digest that is not one may be an email: never shown.
    if (primaryKeyHex && notHex(row[primaryKey])) return '(not SHA-256 hex)';
    const key = toText(row[primaryKey]);
    return typeof key === 'string' ? key : '(no primary key)';
  };
}

export function compileMapper(sync: MappingDefinition, options: CompileOptions = {}): { mapper?: Mapper; problems: CompileProblem[] } {
  const plan = planMapping(sync, options.available);
  if (plan.problems.length > 0) return { problems: plan.problems };
  const userData = new UserDataWriter(plan.identifiers, sync.options.default_country);
  const encode = eventWriter(plan, userData, sync.options, options.now ?? Date.now);
  const { primaryKey, primaryKeyHex } = plan;

  const map = (row: Row): MapOutcome => {
    const outcome = encode(row);
    return outcome.json === undefined ? outcome : { event: JSON.parse(outcome.json) as Event };
  };

  const keyOf = primaryKeyReader(primaryKey, primaryKeyHex);

  return { mapper: { columns: plan.columns, encode, map, keyOf, droppedIdentifiers: userData.dropped }, problems: [] };
}
