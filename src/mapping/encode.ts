// Rows to request-ready bytes: each event is mapped and serialized once, into one buffer per
// page, so the sending side copies whole runs of events into a request body. Pure: no I/O.
import type { UserKey } from '../core/event-schema.js';
import type { EncodeOutcome, Event, Mapper, Reason, Row } from './compile.js';
import { EncodedEvents, type PageBytes } from '../core/encoded-events.js';

// UTF-8 takes at most three bytes per UTF-16 code unit.
const MAX_BYTES_PER_UNIT = 3;

// Pinterest documents no size limit for an event or a request; 64 KiB is 4x its longest documented string field (user_agent, 16,384).
export const MAX_EVENT_BYTES = 64 * 1024;

/** Why an event too large to send is rejected; `bytes` is its JSON size. */
function oversizeReason(bytes: number): Reason {
  return { field: 'event', problem: `larger than ${MAX_EVENT_BYTES / 1024} KiB as JSON (too large to send)`, detail: `${bytes} bytes` };
}

/** `mapper.encode`, with events too large to send rejected: what a run would send, for previews. */
export function encodeChecked(mapper: Mapper, row: Row): EncodeOutcome {
  const outcome = mapper.encode(row);
  // UTF-8 takes at least one byte per UTF-16 unit and at most three: measure only in between.
  if (outcome.json === undefined || outcome.json.length * MAX_BYTES_PER_UNIT <= MAX_EVENT_BYTES) return outcome;
  const bytes = Buffer.byteLength(outcome.json);
  return bytes > MAX_EVENT_BYTES ? { reasons: [oversizeReason(bytes)] } : outcome;
}

export interface EncodedPage {
  /**
   * Every event of the page as UTF-8 JSON, each followed by a comma: row i's event spans
   * offsets[i]..offsets[i + 1] (empty when rejected), so consecutive events are one range.
   */
  json: Uint8Array;
  offsets: Uint32Array;
  /** Each row's event_id; null for a row rejected locally. */
  eventIds: (string | null)[];
  /** Why each rejected row was rejected, by row index. */
  rejects: [number, Reason[]][];
  /** Rows the sync file's `skip:` leaves out, by row index, ascending (no event bytes, not rejects). */
  skipped: number[];
  /** Identifier values dropped so far by this mapper, by key (a running total). */
  dropped: [UserKey, number][];
}

const COMMA = 0x2c;

/** Row i's event bytes (a view, not a copy); undefined when the row was rejected. */
export function eventOf(page: PageBytes, i: number): Uint8Array | undefined {
  const start = page.offsets[i]!;
  const end = page.offsets[i + 1]!;
  return end > start ? page.json.subarray(start, end - 1) : undefined;
}

/** Events as one request would send them (for tests and small tools). */
export function encodeEvents(events: readonly Event[]): EncodedEvents {
  const texts = events.map((e) => `${JSON.stringify(e)},`);
  const json = Buffer.from(texts.join(''));
  const offsets = new Uint32Array(events.length + 1);
  texts.forEach((text, i) => (offsets[i + 1] = offsets[i]! + Buffer.byteLength(text)));
  const page = { json, offsets };
  const encoded = new EncodedEvents();
  events.forEach((_, i) => encoded.add(page, i));
  return encoded;
}

export function encodePage(mapper: Mapper, rows: readonly Row[]): EncodedPage {
  // Never from Node's shared pool: the page's memory is handed to another thread whole.
  let json = Buffer.allocUnsafeSlow(Math.max(1024, rows.length * 768));
  const offsets = new Uint32Array(rows.length + 1);
  const eventIds: (string | null)[] = new Array<string | null>(rows.length);
  const rejects: [number, Reason[]][] = [];
  const skipped: number[] = [];
  let length = 0;
  for (let i = 0; i < rows.length; i++) {
    const outcome = mapper.encode(rows[i]!);
    if (outcome.json !== undefined) {
      const text = outcome.json;
      const room = text.length * MAX_BYTES_PER_UNIT + 1;
      if (json.length - length < room) {
        const grown = Buffer.allocUnsafeSlow(Math.max(json.length * 2, length + room));
        json.copy(grown, 0, 0, length);
        json = grown;
      }
      // One UTF-8 conversion per event, not one per page (docs/adr/0002-event-json-by-hand.md).
      // There is room for all of it (write would cut it short silently otherwise).
      const bytes = json.write(text, length, 'utf8');
      if (bytes > MAX_EVENT_BYTES) {
        // Too large for Pinterest: rejected here, its bytes dropped, rather than refused with the batch.
        eventIds[i] = null;
        rejects.push([i, [oversizeReason(bytes)]]);
      } else {
        length += bytes;
        json[length++] = COMMA;
        eventIds[i] = outcome.eventId;
      }
    } else if (outcome.skipped) {
      eventIds[i] = null;
      skipped.push(i);
    } else {
      eventIds[i] = null;
      rejects.push([i, outcome.reasons]);
    }
    offsets[i + 1] = length;
  }
  return { json: json.subarray(0, length), offsets, eventIds, rejects, skipped, dropped: [...mapper.droppedIdentifiers] };
}
