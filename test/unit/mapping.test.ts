import { describe, expect, it } from 'vitest';
import { conversionEventSchema } from '../../src/core/event-schema.js';
import {
  Invalid, toBoolean, toDecimalString, toInteger, toTextList, toUnixSeconds,
} from '../../src/core/convert.js';
import { compileMapper } from '../../src/mapping/compile.js';
import { encodePage, eventOf } from '../../src/mapping/encode.js';
import { EncodedEvents } from '../../src/core/encoded-events.js';
import { mapperFrom, NOW, syncFrom, withLines } from '../helpers/sync.js';

const T = Math.floor(NOW / 1000);

describe('type conversion', () => {
  it.each([
    [19.99, '19.99'], [0.1, '0.1'], [100, '100'], [-5.5, '-5.5'], ['19.990', '19.990'], [' 7 ', '7'],
    ['+5', '5'], ['.5', '0.5'], ['12.', '12'], [1e21, '1000000000000000000000'], [1.5e-7, '0.00000015'],
    [12345678901234567890n, '12345678901234567890'],
  ])('decimal %s -> %s', (input, expected) => expect(toDecimalString(input)).toBe(expected));
  it.each([['abc'], ['1,234.50'], ['$5'], [Number.NaN], [Infinity], [{}]])('decimal rejects %j', (input) => {
    expect(toDecimalString(input)).toBeInstanceOf(Invalid);
  });
  it.each([[3, 3], ['4', 4], ['5.0', 5], [6n, 6], [' 7 ', 7]])('integer %s -> %s', (input, expected) => expect(toInteger(input)).toBe(expected));
  it.each([[2.5], ['2.5'], ['two']])('integer rejects %j', (input) => expect(toInteger(input)).toBeInstanceOf(Invalid));
  it.each([
    [new Date('2026-11-20T12:00:00.999Z'), T],
    [T, T],
    [T * 1000 + 999, T],
    [BigInt(T) * 1_000_000n, T],
    [String(T), T],
    [String(T * 1000), T],
    ['2026-11-20T12:00:00Z', T],
    ['2026-11-20 12:00:00', T],
    ['2026-11-20T12:00:00.123456', T],
    ['2026-11-20T14:00:00+02:00', T],
    ['2026-11-20T07:00:00-0500', T],
    ['2026-11-20', T - 12 * 3600],
  ])('event time %s -> %s', (input, expected) => expect(toUnixSeconds(input)).toBe(expected));
  it('reads eight digits as a YYYYMMDD date, not as 1970', () => expect(toUnixSeconds('20261120')).toBe(T - 12 * 3600));
  it.each([[-5], [new Date('1960-01-01T00:00:00Z')], ['1'.repeat(400)], [10n ** 400n], ['1969-12-31T23:59:59Z']])('event time rejects %s: before 1970 or too large', (input) => {
    expect(toUnixSeconds(input)).toBeInstanceOf(Invalid);
  });
  it.each([['   ', toDecimalString], ['  ', toInteger], [' ', toUnixSeconds], ['  ', toBoolean]] as const)('treats blank %j as absent', (input, convert) => {
    expect(convert(input)).toBeUndefined();
  });
  it.each([['yesterday'], ['2026-13-45'], ['2026-02-30'], ['2026-02-30 10:00:00'], [new Date(Number.NaN)]])('event time rejects %j', (input) => {
    expect(toUnixSeconds(input)).toBeInstanceOf(Invalid);
  });
  it.each([[true, true], ['yes', true], ['0', false], ['F', false]])('boolean %j -> %j', (i, e) => expect(toBoolean(i)).toBe(e));
  it.each([
    [['a', ' b ', null, ''], ['a', 'b']], ['a, b,c', ['a', 'b', 'c']], ['["x","y"]', ['x', 'y']], [[1, 2], ['1', '2']],
  ])('list %j -> %j', (input, expected) => expect(toTextList(input)).toEqual(expected));
});

const FULL = withLines({
  match: ['client_ip_address: ip', 'client_user_agent: ua'],
  mappings: [
    'event_id: order_id',
    'event_source_url: url',
    'opt_out: opted_out',
    'custom_data.value: total',
    'custom_data.currency: { value: USD }',
    'custom_data.num_items: { column: n }',
    'custom_data.content_ids: skus',
    'custom_data.order_id: order_id',
    'custom_data.predicted_ltv: ltv',
    'custom_data.contents: { column: items, fields: { id: sku, item_price: price, quantity: qty } }',
    'app_info.window_width: width',
    'device_info.os_family: { column: os, map: { iPhone: ios, Pixel: android } }',
  ],
});

const baseRow = {
  order_id: 1042, completed_at: new Date(NOW - 60_000), email: 'a@example.com', ip: '192.0.2.1', ua: 'UA',
  url: 'https://shop.example.com/checkout', opted_out: 'no', total: '19.99', n: '3', skus: 'A-1,B-2', ltv: 120.5,
  items: '[{"sku":"A-1","price":"9.99","qty":2},{"sku":"B-2","price":0.01,"qty":"1","colour":"red"}]', width: 1280, os: 'iPhone',
};

describe('mapping', () => {
  const mapper = mapperFrom(FULL);

  it('maps literals, columns, value maps, nested custom_data, contents and content_ids to API types', () => {
    const outcome = mapper.map(baseRow);
    expect(outcome.reasons).toBeUndefined();
    const { user_data: _user, ...event } = outcome.event!;
    expect(event).toEqual({
      event_name: 'checkout',
      action_source: 'web',
      event_time: T - 60,
      event_id: '1042',
      event_source_url: 'https://shop.example.com/checkout',
      opt_out: false,
      custom_data: {
        currency: 'USD', value: '19.99', content_ids: ['A-1', 'B-2'], num_items: 3, order_id: '1042', predicted_ltv: '120.5',
        contents: [{ id: 'A-1', item_price: '9.99', quantity: 2 }, { id: 'B-2', item_price: '0.01', quantity: 1 }],
      },
      app_info: { window_width: 1280 },
      device_info: { os_family: 'ios' },
    });
  });

  it('writes the required fields first, then user_data', () => {
    expect(Object.keys(mapper.map(baseRow).event!).slice(0, 5)).toEqual(['event_name', 'action_source', 'event_time', 'event_id', 'user_data']);
  });

  it('takes contents from a list of structs as well as JSON text', () => {
    const outcome = mapper.map({ ...baseRow, items: [{ sku: 'C-3', price: '5.00', qty: 1n }] });
    expect((outcome.event!.custom_data as Record<string, unknown>).contents).toEqual([{ id: 'C-3', item_price: '5.00', quantity: 1 }]);
  });

  it('omits fields whose column is null, and custom_data when it would be empty', () => {
    const sparse = mapperFrom(withLines({ mappings: ['custom_data.value: total'] }));
    const outcome = sparse.map({ order_id: 'x', completed_at: new Date(NOW), email: 'a@example.com', total: null });
    expect(outcome.event).not.toHaveProperty('custom_data');
  });

  it('defaults event_id to the primary key, always as a string', () => {
    const outcome = mapperFrom(withLines({})).map({ order_id: 7, completed_at: new Date(NOW), email: 'a@example.com' });
    expect(outcome.event!.event_id).toBe('7');
  });

  it('applies a value map, its default, and null to omit', () => {
    const mapped = mapperFrom(withLines({}).replace('event_name: { value: checkout }', 'event_name: { column: kind, map: { purchase: checkout, test: null }, default: custom }'));
    const row = { order_id: 1, completed_at: new Date(NOW), email: 'a@example.com' };
    expect(mapped.map({ ...row, kind: 'purchase' }).event!.event_name).toBe('checkout');
    expect(mapped.map({ ...row, kind: 'whatever' }).event!.event_name).toBe('custom');
    expect(mapped.map({ ...row, kind: null }).event!.event_name).toBe('custom');
    expect(mapped.map({ ...row, kind: 'test' }).reasons).toEqual([{ field: 'event_name', problem: 'missing (null or blank in the source)' }]);
  });

  it('accepts enum values in any case and passes unmapped valid values through', () => {
    const mapped = mapperFrom(withLines({}).replace('event_name: { value: checkout }', 'event_name: { column: kind, map: { purchase: checkout } }'));
    expect(mapped.map({ order_id: 1, completed_at: new Date(NOW), email: 'a@example.com', kind: ' Add_To_Cart ' }).event!.event_name).toBe('add_to_cart');
  });

  it('every emitted event satisfies the event schema', () => {
    for (const row of [baseRow, { ...baseRow, items: null, skus: '["Z"]', total: 0, os: 'Pixel' }, { ...baseRow, email: null }]) {
      const outcome = mapper.map(row);
      expect(outcome.reasons).toBeUndefined();
      expect(conversionEventSchema.safeParse(outcome.event).success).toBe(true);
    }
  });
});

describe('local validation', () => {
  const mapper = mapperFrom(FULL);
  const reasons = (row: Record<string, unknown>) => mapper.map({ ...baseRow, ...row }).reasons?.map((r) => `${r.field}: ${r.problem}${r.detail ? ` (${r.detail})` : ''}`);

  it('rejects a row without a usable identifier', () => {
    expect(reasons({ email: 'nope', ip: null })).toEqual([
      'user_data: no usable identifier (needs em, hashed_maids, or client_ip_address with client_user_agent)',
    ]);
  });
  it('accepts client_ip_address with client_user_agent alone', () => expect(reasons({ email: null })).toBeUndefined());
  it('rejects events older than max_event_age and in the future', () => {
    expect(reasons({ completed_at: new Date(NOW - 8 * 86400_000) })).toEqual(['event_time: older than options.max_event_age (7d)']);
    expect(reasons({ completed_at: new Date(NOW + 3600_000) })).toEqual(['event_time: in the future']);
  });
  it('honours a custom max_event_age', () => {
    const lenient = mapperFrom(withLines({ options: ['max_event_age: 30d'] }));
    expect(lenient.map({ order_id: 1, completed_at: new Date(NOW - 8 * 86400_000), email: 'a@example.com' }).reasons).toBeUndefined();
  });
  it('rejects missing required fields', () => {
    expect(reasons({ completed_at: null, order_id: null })).toEqual([
      'event_time: missing (null or blank in the source)', 'event_id: missing (null or blank in the source)',
    ]);
  });
  it('names the field and the bad value, with a hint for unknown enum values', () => {
    const mapped = mapperFrom(withLines({}).replace('event_name: { value: checkout }', 'event_name: kind'));
    const outcome = mapped.map({ order_id: 1, completed_at: new Date(NOW), email: 'a@example.com', kind: 'chekout' });
    expect(outcome.reasons).toEqual([{ field: 'event_name', problem: 'invalid value', detail: "'chekout' is not one of 22 allowed values; did you mean 'checkout'?" }]);
  });
  it('collects every problem of a row', () => {
    expect(reasons({ total: 'n/a', n: '2.5', items: '{"not":"a list"}' })).toEqual([
      "custom_data.value: invalid value ('n/a' is not a decimal number)",
      'custom_data.contents: invalid value (JSON text is not an array)',
      "custom_data.num_items: invalid value ('2.5' is not a whole number)",
    ]);
  });
  it('never puts a raw identifier into a reason', () => {
    const secretish = ['alice.smith@example.com', '+1 (415) 555-0132', '6D92078A-8246-4BA4-AE5B-76104861E7DC'];
    for (const value of secretish) {
      const text = JSON.stringify(mapper.map({ ...baseRow, total: value, n: value, url: { value }, email: value, ip: value }).reasons);
      expect(text).not.toContain(value);
      expect(text).not.toContain('555');
    }
  });
});

describe('compiling against the source columns', () => {
  it('reports a mapped column the source lacks, with a hint, and matches case-insensitively', () => {
    const sync = syncFrom(withLines({ match: ['ph: Phone'] }).replace('event_time: completed_at', 'event_time: completd_at'));
    const { mapper, problems } = compileMapper(sync, { available: ['order_id', 'completed_at', 'email', 'phone'] });
    expect(mapper).toBeUndefined();
    expect(problems).toEqual([{ path: ['mappings', 'event_time'], message: "column 'completd_at' is not in the source; did you mean 'completed_at'?" }]);
  });

  it('lays rows out as the referenced columns only, each once, in the source spelling', () => {
    const sync = syncFrom(withLines({ match: ['ph: Phone'], mappings: ['custom_data.order_id: order_id'] }));
    const { mapper } = compileMapper(sync, { available: ['order_id', 'completed_at', 'email', 'phone', 'unused'] });
    expect(mapper!.columns).toEqual(['order_id', 'completed_at', 'email', 'phone']);
  });
});

describe('encodePage', () => {
  it('lays each event out as its JSON bytes, leaves rejected rows empty with their reasons, and counts dropped values', () => {
    const { mapper } = compileMapper(syncFrom(withLines({ match: ['ph: phone'], options: ['default_country: US'] })), { now: () => NOW });
    const row = (values: Record<string, unknown>) => mapper!.columns.map((c) => values[c]);
    const rows = [
      row({ order_id: 'ä-1', completed_at: new Date(NOW), email: 'Zoë@example.com' }),
      row({ order_id: 'b-2', completed_at: null, email: 'b@example.com' }),
      row({ order_id: '🚀-3', completed_at: new Date(NOW), email: 'c@example.com', phone: 'not a phone' }),
    ];
    const page = encodePage(mapper!, rows);
    expect(page.eventIds).toEqual(['ä-1', null, '🚀-3']);
    expect(page.rejects).toEqual([[1, [expect.objectContaining({ field: 'event_time' })]]]);
    expect(eventOf(page, 1)).toBeUndefined();
    for (const i of [0, 2]) {
      const expected = JSON.stringify(mapper!.map(rows[i]!).event);
      expect(Buffer.from(eventOf(page, i)!).toString('utf8')).toBe(expected);
    }
    expect(page.offsets[3]).toBe(page.json.length);
    expect(page.dropped).toEqual([['ph', 1]]);
  });

  it('builds request bodies from runs of events across pages, skipping rejected rows, and splits them', () => {
    const { mapper } = compileMapper(syncFrom(withLines({})), { now: () => NOW });
    const row = (id: string, time: Date | null) => mapper!.columns.map((c) => ({ order_id: id, completed_at: time, email: `${id}@example.com` } as Record<string, unknown>)[c]);
    const first = encodePage(mapper!, [row('ä-1', new Date(NOW)), row('b-2', null), row('c-3', new Date(NOW)), row('d-4', new Date(NOW))]);
    const second = encodePage(mapper!, [row('é-5', new Date(NOW))]);
    const events = new EncodedEvents();
    // Row 1 is rejected (no bytes), row 2 left out as if delivered before: the run breaks there.
    for (const [page, i] of [[first, 0], [first, 3], [second, 0]] as const) events.add(page, i);
    const ids = (body: Buffer) => (JSON.parse(body.toString('utf8')) as { data: { event_id: string }[] }).data.map((e) => e.event_id);
    expect(events.length).toBe(3);
    expect(ids(events.requestBody())).toEqual(['ä-1', 'd-4', 'é-5']);
    expect(ids(events.slice(1).requestBody())).toEqual(['d-4', 'é-5']);
    expect(ids(events.slice(0, 1).requestBody())).toEqual(['ä-1']);
    expect(events.slice(3).requestBody().toString()).toBe('{"data":[]}');
    expect(events.at(2)).toEqual({ page: second, row: 0 });
    const whole = new EncodedEvents();
    for (const i of [0, 2, 3]) whole.add(first, i);
    expect(whole.requestBody().toString('utf8')).toBe(JSON.stringify({ data: [0, 2, 3].map((i) => JSON.parse(Buffer.from(eventOf(first, i)!).toString('utf8'))) }));
    // What a request writes: pieces that add up to the announced length, none empty; a run of
    // events goes on across a rejected row, and breaks where a row is left out or a page ends.
    const pieces = (e: EncodedEvents) => {
      const { chunks, length } = e.requestChunks();
      expect(chunks.reduce((n, c) => n + c.length, 0)).toBe(length);
      expect(chunks.every((c) => c.length > 0)).toBe(true);
      return chunks.length;
    };
    expect(pieces(whole)).toBe(3);
    expect(pieces(events)).toBe(5);
    expect(pieces(events.slice(1))).toBe(4);
    expect(pieces(events.slice(3))).toBe(2);
  });
});

describe('values checked for issue 20', () => {
  const row = { order_id: 1, completed_at: new Date(NOW), email: 'a@example.com' };
  it('uppercases currency codes and rejects what is not ISO 4217', () => {
    const mapped = mapperFrom(withLines({ mappings: ['custom_data.currency: cur'] }));
    expect((mapped.map({ ...row, cur: ' usd ' }).event!.custom_data as Record<string, unknown>).currency).toBe('USD');
    expect(mapped.map({ ...row, cur: 'GBP' }).event!.custom_data).toEqual({ currency: 'GBP' });
    expect(mapped.map({ ...row, cur: null }).event!.custom_data).toBeUndefined();
    for (const bad of ['DOLLARS', 'US$', 'XYZ', 5]) {
      expect(mapped.map({ ...row, cur: bad }).reasons).toEqual([
        { field: 'custom_data.currency', problem: 'invalid value', detail: `'${bad}' is not an ISO 4217 currency code such as USD or EUR` },
      ]);
    }
  });

  it('sends a declared SHA-256 column in clear only when a row holds a digest there, never showing what it holds', () => {
    const digest = 'a'.repeat(64);
    const yaml = withLines({ mappings: ['custom_data.order_id: email_sha256'], options: ['hashed_columns: [email_sha256, pk]'] })
      .replace('primary_key: order_id', 'primary_key: pk').replace('em: email', 'em: email_sha256');
    const mapped = mapperFrom(yaml);
    const ok = mapped.map({ pk: digest, completed_at: new Date(NOW), email_sha256: digest.toUpperCase() });
    expect(ok.event).toMatchObject({ event_id: digest, custom_data: { order_id: digest.toUpperCase() }, user_data: { em: [digest] } });
    const raw = { pk: 'a@example.com', completed_at: new Date(NOW), email_sha256: 'b@example.com' };
    const outcome = mapped.map(raw);
    expect(outcome.reasons?.map((r) => r.field)).toEqual(['event_id', 'custom_data.order_id', 'source.primary_key']);
    expect(JSON.stringify(outcome.reasons)).not.toContain('example.com');
    expect(mapped.keyOf(raw)).toBe('(not SHA-256 hex)');
    expect(mapped.keyOf({ ...raw, pk: digest })).toBe(digest);
  });
});
