// Rows to request-ready bytes: each event is mapped and serialized once, into one buffer per
// page, so the sending side only concatenates byte ranges. Pure: no I/O.
import type { UserKey } from '../pinterest/event-schema.js';
import type { Event, Mapper, Reason, Row } from './compile.js';

/** One event as UTF-8 JSON, ready to go into a request body. */
export type EncodedEvent = Uint8Array;

export interface EncodedPage {
  /** Every event of the page, back to back; row i's event spans offsets[i]..offsets[i + 1] (empty when rejected). */
  json: Uint8Array;
  offsets: Uint32Array;
  /** Each row's event_id; null for a row rejected locally. */
  eventIds: (string | null)[];
  /** Why each rejected row was rejected, by row index. */
  rejects: [number, Reason[]][];
  /** Identifier values dropped so far by this mapper, by key (a running total). */
  dropped: [UserKey, number][];
}

/** One event's bytes (from Node's shared pool: never transfer its buffer to another thread). */
export function encodeEvent(event: Event): EncodedEvent {
  return Buffer.from(JSON.stringify(event));
}

/** Row i's event bytes (a view, not a copy); undefined when the row was rejected. */
export function eventOf(page: EncodedPage, i: number): EncodedEvent | undefined {
  const start = page.offsets[i]!;
  const end = page.offsets[i + 1]!;
  return end > start ? page.json.subarray(start, end) : undefined;
}

// UTF-8 takes at most three bytes per UTF-16 code unit.
const MAX_BYTES_PER_UNIT = 3;

export function encodePage(mapper: Mapper, rows: readonly Row[]): EncodedPage {
  // Never from Node's shared pool: the page's memory is handed to another thread whole.
  let json = Buffer.allocUnsafeSlow(Math.max(1024, rows.length * 768));
  const offsets = new Uint32Array(rows.length + 1);
  const eventIds: (string | null)[] = new Array<string | null>(rows.length);
  const rejects: [number, Reason[]][] = [];
  let length = 0;
  for (let i = 0; i < rows.length; i++) {
    const outcome = mapper.map(rows[i]!);
    if (outcome.event) {
      const text = JSON.stringify(outcome.event);
      if (json.length - length < text.length * MAX_BYTES_PER_UNIT) {
        const grown = Buffer.allocUnsafeSlow(Math.max(json.length * 2, length + text.length * MAX_BYTES_PER_UNIT));
        json.copy(grown, 0, 0, length);
        json = grown;
      }
      length += json.write(text, length);
      eventIds[i] = String(outcome.event.event_id);
    } else {
      eventIds[i] = null;
      rejects.push([i, outcome.reasons]);
    }
    offsets[i + 1] = length;
  }
  return { json: json.subarray(0, length), offsets, eventIds, rejects, dropped: [...mapper.droppedIdentifiers] };
}
