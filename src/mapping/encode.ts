// Rows to request-ready bytes: each event is mapped and serialized once, into one buffer per
// page, so the sending side copies whole runs of events into a request body. Pure: no I/O.
import type { UserKey } from '../pinterest/event-schema.js';
import type { EncodeOutcome, Event, Mapper, Reason, Row } from './compile.js';

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

type PageBytes = Pick<EncodedPage, 'json' | 'offsets'>;

const COMMA = 0x2c;
// A page whose events a batch uses fewer than a quarter of is copied, not kept whole.
const SMALL_SHARE = 4;
const BODY_START = Buffer.from('{"data":[');
const BODY_END = Buffer.from(']}');

/** Row i's event bytes (a view, not a copy); undefined when the row was rejected. */
export function eventOf(page: PageBytes, i: number): Uint8Array | undefined {
  const start = page.offsets[i]!;
  const end = page.offsets[i + 1]!;
  return end > start ? page.json.subarray(start, end - 1) : undefined;
}

/**
 * Events of one or more pages, in order: what one request sends. Holds row numbers, not
 * copies; the request body is built from whole runs of consecutive events.
 */
export class EncodedEvents<P extends PageBytes = PageBytes> {
  private readonly segments: { page: P; rows: number[] }[] = [];
  private count = 0;

  get length(): number {
    return this.count;
  }

  /** Adds row `row` of `page`, which must hold an event. */
  add(page: P, row: number): void {
    const last = this.segments.at(-1);
    if (last?.page === page) last.rows.push(row);
    else this.segments.push({ page, rows: [row] });
    this.count++;
  }

  /** The page and row of the k-th event. */
  at(k: number): { page: P; row: number } {
    let rest = k;
    for (const { page, rows } of this.segments) {
      if (rest < rows.length) return { page, row: rows[rest]! };
      rest -= rows.length;
    }
    throw new RangeError(`no event ${k}`);
  }

  /**
   * When this holds only a few events of `page` (its last one), swaps the page for a copy of
   * just those rows, made by `copyRows`: a batch that picks a few rows from many pages (most
   * rows delivered before) must not keep every one of those pages alive.
   */
  compact(page: P, copyRows: (rows: readonly number[]) => P): void {
    const last = this.segments.at(-1);
    if (last?.page !== page || last.rows.length * SMALL_SHARE >= page.offsets.length - 1) return;
    last.page = copyRows(last.rows);
    last.rows = last.rows.map((_, i) => i);
  }

  /** Events start..end-1, like Array.slice. */
  slice(start: number, end = this.count): EncodedEvents<P> {
    const part = new EncodedEvents<P>();
    let k = 0;
    for (const { page, rows } of this.segments) {
      for (const row of rows) {
        if (k >= start && k < end) part.add(page, row);
        k++;
      }
    }
    return part;
  }

  /**
   * {"data":[...]} with every event, as the pieces a request writes in order: whole runs of
   * consecutive events, viewed in their pages, not copied (copying each body into a buffer of
   * its own cost the sending thread about 0.15 ms a batch, measured with the real client).
   */
  requestChunks(): { chunks: Uint8Array[]; length: number } {
    const chunks: Uint8Array[] = [BODY_START];
    let length = BODY_START.length + BODY_END.length;
    const run = (page: P, from: number, to: number) => {
      chunks.push(page.json.subarray(from, to));
      length += to - from;
    };
    for (const { page, rows } of this.segments) {
      let from = page.offsets[rows[0]!]!;
      let to = page.offsets[rows[0]! + 1]!;
      for (let k = 1; k < rows.length; k++) {
        const start = page.offsets[rows[k]!]!;
        // Rows in between that were rejected take no bytes: the run goes on.
        if (start !== to) {
          run(page, from, to);
          from = start;
        }
        to = page.offsets[rows[k]! + 1]!;
      }
      run(page, from, to);
    }
    if (this.count > 0) {
      // Every event ends with a comma; the last one's gives way to the closing bracket.
      const last = chunks.pop()!;
      chunks.push(last.subarray(0, last.length - 1));
      length--;
    }
    chunks.push(BODY_END);
    return { chunks, length };
  }

  /** The same body copied into one buffer (for tests and tools; a request sends the pieces). */
  requestBody(): Buffer {
    const { chunks, length } = this.requestChunks();
    return Buffer.concat(chunks, length);
  }
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
      // Measured: one conversion per event beats joining the page's texts and converting once.
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
