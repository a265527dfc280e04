// What a run reads: source pages, mapped, hashed and serialized, with what the sending side
// needs of each row (its event bytes, event_id, primary key and position) and nothing else.
import type { Mapper, Row } from '../mapping/compile.js';
import { encodePage, type EncodedPage } from '../mapping/encode.js';
import type { Position, Source } from '../sources/types.js';
import { packTexts, textAt, transferablesOf, type PackedTexts } from './packed-texts.js';

export interface ReadPage extends Omit<EncodedPage, 'eventIds'> {
  /** Each row's event_id; null for a row rejected locally. */
  eventIds: PackedTexts;
  /** Each row's primary key as text, to name it in rejects. */
  keys: PackedTexts;
  /** Each row's position, as two lists. */
  cursors: PackedTexts;
  positionKeys: PackedTexts;
}

export interface PageRequest {
  /** Resume strictly after this position. */
  after?: Position;
  /** Rows per source page (the source's default when absent). */
  pageSize?: number;
  /** Leave out rows whose cursor is later than this (see engine/cursor.ts). */
  until?: string;
}

export interface PageReader {
  pages(request: PageRequest): AsyncIterable<ReadPage>;
  /** Releases the source; safe to call more than once. */
  close(): Promise<void>;
}

export function positionAt(page: ReadPage, i: number): Position {
  return { cursor: textAt(page.cursors, i), key: textAt(page.positionKeys, i)! };
}

export function rowCount(page: ReadPage): number {
  return page.offsets.length - 1;
}

/** A page of only these rows, in this order: what a batch keeps of a page it uses little of. */
export function pageOfRows(page: ReadPage, rows: readonly number[]): ReadPage {
  const json = Buffer.concat(rows.map((r) => page.json.subarray(page.offsets[r]!, page.offsets[r + 1]!)));
  const offsets = new Uint32Array(rows.length + 1);
  rows.forEach((r, i) => (offsets[i + 1] = offsets[i]! + page.offsets[r + 1]! - page.offsets[r]!));
  // Joining copies: the new lists do not hold on to the page's.
  const pick = (texts: PackedTexts) => packTexts(rows.map((r) => textAt(texts, r)));
  return {
    json, offsets, rejects: [], skipped: [], dropped: page.dropped,
    eventIds: pick(page.eventIds), keys: pick(page.keys), cursors: pick(page.cursors), positionKeys: pick(page.positionKeys),
  };
}

/** The page's buffers, to transfer (not copy) to another thread. */
export function transferablesOfPage(page: ReadPage): ArrayBuffer[] {
  return [
    page.json.buffer as ArrayBuffer, page.offsets.buffer as ArrayBuffer,
    ...[page.eventIds, page.keys, page.cursors, page.positionKeys].flatMap(transferablesOf),
  ];
}

/**
 * Source pages, mapped. `rowsWanted` (a preview's --limit) bounds how many rows of a source page
 * each mapped page covers, so that what is counted covers the rows read, not the whole page.
 */
export async function* readPages(source: Source, mapper: Mapper, request: PageRequest, rowsWanted?: () => number): AsyncGenerator<ReadPage> {
  for await (const rows of readAhead(source.read({ after: request.after, until: request.until, columns: mapper.columns, pageSize: request.pageSize }))) {
    for (let from = 0; from < rows.length;) {
      const count = Math.min(rows.length - from, Math.max(1, rowsWanted?.() ?? Infinity));
      yield mapRows(source, mapper, from === 0 && count === rows.length ? rows : rows.slice(from, from + count));
      from += count;
    }
  }
}

function mapRows(source: Source, mapper: Mapper, rows: readonly Row[]): ReadPage {
  const cursors = new Array<string | null>(rows.length);
  const positionKeys = new Array<string | null>(rows.length);
  const keys = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const position = source.positionOf(rows[i]!);
    cursors[i] = position.cursor;
    positionKeys[i] = position.key;
    keys[i] = mapper.keyOf(rows[i]!);
  }
  const encoded = encodePage(mapper, rows);
  return {
    ...encoded,
    eventIds: packTexts(encoded.eventIds), keys: packTexts(keys), cursors: packTexts(cursors), positionKeys: packTexts(positionKeys),
  };
}

/**
 * The same items, with the next one always requested before this one is handed out: the
 * warehouse prepares the next page while this one is mapped, instead of taking turns.
 */
export async function* readAhead<T>(items: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = items[Symbol.asyncIterator]();
  let next = iterator.next();
  try {
    for (;;) {
      const result = await next;
      if (result.done) return;
      next = iterator.next();
      // Awaited on the next turn; if the reader stops first, its failure must not go unhandled.
      next.catch(() => undefined);
      yield result.value;
    }
  } finally {
    await iterator.return?.();
  }
}
