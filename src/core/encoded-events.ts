// The events one request sends, as runs of bytes in the pages mapping wrote: what the engine
// batches and the Pinterest client sends, so both see one format without importing mapping.

/** A page of events as UTF-8 JSON: row i's event spans offsets[i]..offsets[i + 1], with its comma. */
export interface PageBytes {
  json: Uint8Array;
  offsets: Uint32Array;
}

// A page whose events a batch uses fewer than a quarter of is copied, not kept whole.
const SMALL_SHARE = 4;
const BODY_START = Buffer.from('{"data":[');
const BODY_END = Buffer.from(']}');

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
   * consecutive events, viewed in their pages, not copied (docs/adr/0009-sending-without-copies.md).
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
