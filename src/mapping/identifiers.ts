// A row's identifiers as user_data JSON text: each value normalized and (for the hashed keys)
// SHA-256 hashed; unusable values are left out and counted.
import type { UserKey } from '../core/event-schema.js';
import type { Row } from './compile.js';
import { isSha256Hex, sha256Hex } from './hash.js';
import { isPlainText } from './json.js';
import { NORMALIZERS, type NormalizeContext } from './normalize.js';
import { MEMO_LIMIT, OBJECT_END, OPEN_LIST, OPEN_NOTHING, OPEN_QUOTE, type IdentifierPlan, type Open } from './plan.js';

// Keys that can match an event alone; otherwise it needs both client_ip_address and client_user_agent.
const MATCHING_KEYS: ReadonlySet<UserKey> = new Set(['em', 'hashed_maids']);

export class UserDataWriter {
  /** Whether the last user_data written can match an event (read right after `write`). */
  matchable = false;
  /** Identifier values dropped as unusable (the event may still be sent), by key. */
  readonly dropped = new Map<UserKey, number>();
  // One context reused for every row; the row's country is looked up only when a phone needs it.
  private readonly ctx: NormalizeContext;
  private currentRow: Row = [];
  // A country column holds a few spellings ("US", "usa", "United States"): each is looked up once.
  private readonly countryOf = new Map<string, string | undefined>();

  constructor(private readonly identifiers: readonly IdentifierPlan[], defaultCountry: string | undefined) {
    const countryPlan = identifiers.find((p) => p.key === 'country');
    this.ctx = { defaultCountry, rowCountry: countryPlan ? () => this.rowCountry(countryPlan) : undefined };
  }

  /** The row's user_data object as JSON text; sets `matchable`. */
  write(row: Row): string {
    this.currentRow = row;
    let json = '{';
    let open: Open = OPEN_NOTHING;
    let hasIp = false;
    let hasAgent = false;
    this.matchable = false;
    for (const plan of this.identifiers) {
      if (!plan.hashed) {
        for (const col of plan.columns) {
          const raw = row[col];
          if (raw === null || raw === undefined || raw === '') continue;
          const value = plan.normalize(Array.isArray(raw) ? raw[0] : raw, this.ctx);
          if (value === undefined) this.drop(plan.key);
          else {
            if (isPlainText(value)) {
              json += (json.length > 1 ? plan.quotedStart.next[open]! : plan.quotedStart.first) + value;
              open = OPEN_QUOTE;
            } else {
              json += (json.length > 1 ? plan.start.next[open]! : plan.start.first) + JSON.stringify(value);
              open = OPEN_NOTHING;
            }
            if (plan.key === 'client_ip_address') hasIp = true;
            else if (plan.key === 'client_user_agent') hasAgent = true;
            else if (MATCHING_KEYS.has(plan.key)) this.matchable = true;
            break;
          }
        }
        continue;
      }
      // Digests are lowercase hex: nothing in them needs escaping.
      let list: string | undefined;
      if (plan.columns.length === 1 && !Array.isArray(row[plan.columns[0]!])) {
        // One column, one value: the common case, without a list.
        list = this.usableDigest(plan, row[plan.columns[0]!]);
      } else {
        const hashes = this.digests(plan, row);
        list = hashes.length > 0 ? hashes.join('","') : undefined;
      }
      if (list === undefined) continue;
      json += (json.length > 1 ? plan.start.next[open]! : plan.start.first) + list;
      open = OPEN_LIST;
      if (MATCHING_KEYS.has(plan.key)) this.matchable = true;
    }
    if (hasIp && hasAgent) this.matchable = true;
    return json + OBJECT_END[open]!;
  }

  /** One key's usable digests in a row, each once (an audience's members); unusable values are counted as dropped. */
  digests(plan: IdentifierPlan, row: Row): string[] {
    this.currentRow = row;
    let hashes: string[] | undefined;
    for (const col of plan.columns) {
      const raw = row[col];
      if (raw === null || raw === undefined) continue;
      if (Array.isArray(raw)) for (const one of raw) hashes = this.addDigest(hashes, plan, one);
      else hashes = this.addDigest(hashes, plan, raw);
    }
    return hashes ?? [];
  }

  private drop(key: UserKey): void {
    this.dropped.set(key, (this.dropped.get(key) ?? 0) + 1);
  }

  private rowCountry(plan: IdentifierPlan): string | undefined {
    for (const col of plan.columns) {
      const raw = this.currentRow[col];
      let code: string | undefined;
      if (typeof raw !== 'string') code = NORMALIZERS.country(raw, {});
      else if (this.countryOf.has(raw)) code = this.countryOf.get(raw);
      else {
        code = NORMALIZERS.country(raw, {});
        if (this.countryOf.size < MEMO_LIMIT) this.countryOf.set(raw, code);
      }
      if (code) return code;
    }
    return undefined;
  }

  // A value's digest; undefined when it is blank (absent), null when it is unusable.
  private digestOf(plan: IdentifierPlan, value: unknown): string | null | undefined {
    if (typeof value === 'string' && value.length >= 64) {
      const trimmed = value.trim();
      if (isSha256Hex(trimmed)) return trimmed.toLowerCase();
    }
    const normalized = plan.normalize(value, this.ctx);
    if (normalized !== undefined) return sha256Hex(normalized);
    return typeof value === 'string' && value.trim() === '' ? undefined : null;
  }

  // One value's digest, remembered for the low-cardinality keys; undefined when the value is
  // absent or left out (then counted as dropped).
  private usableDigest(plan: IdentifierPlan, value: unknown): string | undefined {
    if (value === null || value === undefined || value === '') return undefined;
    const memo = typeof value === 'string' ? plan.memo : undefined;
    let digest = memo?.get(value as string);
    if (digest === undefined) {
      digest = this.digestOf(plan, value);
      if (memo && digest !== undefined && memo.size < MEMO_LIMIT) memo.set(value as string, digest);
    }
    if (digest === null) {
      this.drop(plan.key);
      return undefined;
    }
    return digest;
  }

  // Adds one value's digest to a key's list, or counts it as left out.
  private addDigest(hashes: string[] | undefined, plan: IdentifierPlan, value: unknown): string[] | undefined {
    const digest = this.usableDigest(plan, value);
    if (digest === undefined) return hashes;
    if (!hashes) return [digest];
    if (!hashes.includes(digest)) hashes.push(digest);
    return hashes;
  }
}
