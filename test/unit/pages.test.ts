// Pages as the main thread holds them: packed row texts, and what a batch keeps of a page.
import { describe, expect, it } from 'vitest';
import { compileMapper } from '../../src/mapping/compile.js';
import { encodePage } from '../../src/mapping/encode.js';
import { EncodedEvents } from '../../src/core/encoded-events.js';
import { packTexts, textAt } from '../../src/engine/packed-texts.js';
import { pageOfRows, positionAt, type ReadPage } from '../../src/engine/reader.js';
import { NOW, syncFrom, withLines } from '../helpers/sync.js';

describe('packed texts', () => {
  it('keeps empty strings and nulls apart, in order', () => {
    const list = ['ä-1', '', null, '🚀 rocket', null, 'z'];
    const packed = packTexts(list);
    expect(list.map((_, i) => textAt(packed, i))).toEqual(list);
    expect(packTexts([null]).text).toBe('');
    expect(textAt(packTexts(['', 'a']), 0)).toBe('');
    expect(packTexts(['a', 'b']).nulls).toBeUndefined();
  });
});

describe('a batch that uses a few rows of a page', () => {
  const { mapper } = compileMapper(syncFrom(withLines({})), { now: () => NOW });
  const ids = ['ä-0', 'b-1', 'c-2', 'd-3', 'é-4', 'f-5', 'g-6', 'h-7', 'i-8', 'j-9'];
  const rows = ids.map((id, i) => mapper!.columns.map((c) => ({ order_id: id, completed_at: i === 1 ? null : new Date(NOW), email: `${id}@example.com` } as Record<string, unknown>)[c]));
  const encoded = encodePage(mapper!, rows);
  const page: ReadPage = {
    ...encoded,
    eventIds: packTexts(encoded.eventIds), keys: packTexts(ids), cursors: packTexts(ids.map((_, i) => `2026-01-01 00:00:0${i}`)), positionKeys: packTexts(ids),
  };
  const bodyIds = (events: EncodedEvents<ReadPage>) => (JSON.parse(events.requestBody().toString('utf8')) as { data: { event_id: string }[] }).data.map((e) => e.event_id);

  it('keeps a copy of just those rows, with the same bytes, ids, keys and positions', () => {
    const events = new EncodedEvents<ReadPage>();
    for (const row of [4, 9]) events.add(page, row);
    const before = events.requestBody();
    events.compact(page, (picked) => pageOfRows(page, picked));
    expect(events.requestBody().equals(before)).toBe(true);
    expect(bodyIds(events)).toEqual(['é-4', 'j-9']);
    const { page: kept, row } = events.at(0);
    expect(kept).not.toBe(page);
    expect(kept.json.length).toBeLessThan(page.json.length / 2);
    expect([textAt(kept.keys, row), textAt(kept.eventIds, row)]).toEqual(['é-4', 'é-4']);
    expect(positionAt(kept, row)).toEqual(positionAt(page, 4));
    expect(bodyIds(events.slice(1))).toEqual(['j-9']);
  });

  it('keeps the page itself when the batch uses much of it', () => {
    const events = new EncodedEvents<ReadPage>();
    for (const row of [0, 2, 3, 4, 5]) events.add(page, row);
    events.compact(page, (picked) => pageOfRows(page, picked));
    expect(events.at(0).page).toBe(page);
    expect(bodyIds(events)).toEqual(['ä-0', 'c-2', 'd-3', 'é-4', 'f-5']);
  });
});
