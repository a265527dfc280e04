// A row as the event's JSON text, written straight from the row in the plan's order instead of
// building an object and stringifying it (docs/adr/0002-event-json-by-hand.md), or the reasons it cannot be one.
import { parseDuration } from '../config/duration.js';
import type { EncodeOutcome, MappingDefinition, Reason, Row, Skipped } from './compile.js';
import { Invalid } from '../core/convert.js';
import type { UserDataWriter } from './identifiers.js';
import { isPlainText, jsonValue } from './json.js';
import {
  FIRST_FIELDS, memberStart, NOT_HEX, notHex, OBJECT_END, OPEN_NOTHING, OPEN_QUOTE, type MappingPlan, type Open,
} from './plan.js';

const SKIPPED: Skipped = { skipped: true };
const ALL_REQUIRED = (1 << FIRST_FIELDS.length) - 1;
const FUTURE_SKEW_SECONDS = 300;
const USER_DATA = memberStart('"user_data":');

export function eventWriter(plan: MappingPlan, userData: UserDataWriter, options: MappingDefinition['options'], now: () => number): (row: Row) => EncodeOutcome {
  const { fields, skip, primaryKey, primaryKeyHex } = plan;
  const maxAgeSeconds = parseDuration(options.max_event_age);
  return (row) => {
    if (skip?.(row)) return SKIPPED;
    let reasons: Reason[] | undefined;
    const fail = (reason: Reason) => {
      (reasons ??= []).push(reason);
    };
    let json = '{';
    let open: Open = OPEN_NOTHING;
    // The group whose object is open, and whether it has a field yet.
    let openGroup: string | undefined;
    let groupEmpty = true;
    let eventId: string | undefined;
    let eventTime: unknown;
    let present = 0;
    let userDataPlaced = false;
    for (const field of fields) {
      if (!userDataPlaced && field.requiredBit === 0) {
        json += (json.length > 1 ? USER_DATA.next[open]! : USER_DATA.first) + userData.write(row);
        open = OPEN_NOTHING;
        userDataPlaced = true;
      }
      const value = field.read(row);
      if (value === undefined) continue;
      if (value instanceof Invalid) {
        fail({ field: field.path, problem: 'invalid value', detail: value.message });
        continue;
      }
      if (field.requiredBit !== 0) {
        present |= field.requiredBit;
        if (field.path === 'event_id') eventId = String(value);
        else if (field.path === 'event_time') eventTime = value;
      }
      if (reasons) continue;
      if (field.group !== openGroup) {
        if (openGroup) {
          json += OBJECT_END[open]!;
          open = OPEN_NOTHING;
        }
        if (field.group) {
          json += json.length > 1 ? field.groupStart.next[open]! : field.groupStart.first;
          open = OPEN_NOTHING;
          groupEmpty = true;
        }
        openGroup = field.group;
      }
      const first = openGroup ? groupEmpty : json.length === 1;
      groupEmpty = false;
      if (field.literal) {
        json += first ? field.literal.first : field.literal.next[open]!;
        open = OPEN_NOTHING;
      } else if (typeof value === 'string' && isPlainText(value)) {
        json += (first ? field.quotedName.first : field.quotedName.next[open]!) + value;
        open = OPEN_QUOTE;
      } else {
        json += (first ? field.name.first : field.name.next[open]!) + jsonValue(value);
        open = OPEN_NOTHING;
      }
    }
    if (openGroup) {
      json += OBJECT_END[open]!;
      open = OPEN_NOTHING;
    }
    if (!userDataPlaced) {
      json += (json.length > 1 ? USER_DATA.next[open]! : USER_DATA.first) + userData.write(row);
      open = OPEN_NOTHING;
    }

    if (present !== ALL_REQUIRED) {
      FIRST_FIELDS.forEach((required, i) => {
        if ((present & (1 << i)) === 0 && !reasons?.some((r) => r.field === required)) {
          fail({ field: required, problem: 'missing (null or blank in the source)' });
        }
      });
    }
    if (primaryKeyHex && notHex(row[primaryKey])) fail({ field: 'source.primary_key', problem: NOT_HEX.message });
    if (!userData.matchable) {
      fail({ field: 'user_data', problem: 'no usable identifier (needs em, hashed_maids, or client_ip_address with client_user_agent)' });
    }
    if (typeof eventTime === 'number') {
      const nowSeconds = Math.floor(now() / 1000);
      if (eventTime > nowSeconds + FUTURE_SKEW_SECONDS) fail({ field: 'event_time', problem: 'in the future' });
      else if (eventTime < nowSeconds - maxAgeSeconds) fail({ field: 'event_time', problem: `older than options.max_event_age (${options.max_event_age})` });
    }
    return reasons ? { reasons } : { json: json + OBJECT_END[open]!, eventId: eventId! };
  };
}
