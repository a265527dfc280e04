// An audience sync's rows as customer-list members: each row's identifiers normalized and
// SHA-256 hashed exactly as an event's user_data (identifiers.ts), or why the row has none.
import type { AudienceMatchKey, SyncDefinition } from '../config/schema.js';
import { AUDIENCE_LIST_TYPES } from '../config/schema.js';
import type { UserKey } from '../core/event-schema.js';
import type { Row } from './compile.js';
import { primaryKeyReader, type CompileProblem } from './compile.js';
import { UserDataWriter } from './identifiers.js';
import { DROP_REASONS } from './normalize.js';
import { notHex, NOT_HEX, planMapping } from './plan.js';

export type MemberOutcome =
  | { digests: string[]; reason?: undefined; skipped?: undefined }
  | { digests?: undefined; reason: string; skipped?: undefined }
  | { digests?: undefined; reason?: undefined; skipped: true };

export interface MemberReader {
  /** Columns each row must carry, in this order. */
  columns: string[];
  key: AudienceMatchKey;
  listType: (typeof AUDIENCE_LIST_TYPES)[AudienceMatchKey];
  read(row: Row): MemberOutcome;
  /** The row's primary key as text, for rejects. */
  keyOf(row: Row): string;
  /** Identifier values left out as unusable, by key. */
  dropped: ReadonlyMap<UserKey, number>;
}

export type MemberDefinition = Pick<SyncDefinition, 'match' | 'options' | 'skip'> & { source: Pick<SyncDefinition['source'], 'primary_key'> };

/** `available`: the source's columns, to place a missing one at its key in the sync file. */
export function compileMembers(sync: MemberDefinition, available?: readonly string[]): { reader?: MemberReader; problems: CompileProblem[] } {
  const plan = planMapping({ ...sync, mappings: {} }, available);
  if (plan.problems.length > 0) return { problems: plan.problems };
  const identifier = plan.identifiers.find((p) => p.key in AUDIENCE_LIST_TYPES);
  if (!identifier || plan.identifiers.length !== 1) return { problems: [{ path: ['match'], message: 'an audience sync needs one identifier: em or hashed_maids' }] };
  const key = identifier.key as AudienceMatchKey;
  const writer = new UserDataWriter([identifier], sync.options.default_country);
  const { primaryKey, primaryKeyHex, skip } = plan;
  const read = (row: Row): MemberOutcome => {
    if (skip?.(row)) return { skipped: true };
    if (primaryKeyHex && notHex(row[primaryKey])) return { reason: `source.primary_key: ${NOT_HEX.message}` };
    const before = writer.dropped.get(key) ?? 0;
    const digests = writer.digests(identifier, row);
    if (digests.length > 0) return { digests };
    const unusable = (writer.dropped.get(key) ?? 0) > before;
    return { reason: `${key}: ${unusable ? DROP_REASONS[key] : 'missing (null or blank in the source)'}` };
  };
  return {
    reader: { columns: plan.columns, key, listType: AUDIENCE_LIST_TYPES[key], read, keyOf: primaryKeyReader(primaryKey, primaryKeyHex), dropped: writer.dropped },
    problems: [],
  };
}
