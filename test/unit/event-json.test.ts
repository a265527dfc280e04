// Events are written as JSON text straight from the row, not through JSON.stringify: the text
// must be exactly what JSON.stringify would write, for every kind of field and value.
import { describe, expect, it } from 'vitest';
import { compileMapper, type Row } from '../../src/mapping/compile.js';
import { EVENT_FIELDS, fieldConverter } from '../../src/core/fields.js';
import { jsonValue } from '../../src/mapping/json.js';
import { NOW, syncFrom } from '../helpers/sync.js';

// Characters JSON treats specially, and text that is not plain ASCII.
const PIECES = ['a', 'Z', '9', ' ', '"', '\\', '/', '\n', '\t', '\r', '\b', '\u0000', '\u001f', '\u007f', 'é', 'ß', '€', '😀', '\ud800', '\udfff', '\u2028', '<', "'", '}', ',', ':', '[', '{', '%'];

function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe('event JSON text', () => {
  it('writes values as JSON.stringify does', () => {
    const next = random(1);
    const texts = [...PIECES, ...Array.from({ length: 500 }, () => Array.from({ length: Math.floor(next() * 12) }, () => PIECES[Math.floor(next() * PIECES.length)]).join(''))];
    const values: unknown[] = [...texts, 0, -0, 1.5, -19.99, 1e21, 1.5e-7, 2 ** 53, Number.NaN, Infinity, true, false, null, ['a"b', 'c\\'], [{ id: '\u0000', n: 2 }]];
    for (const value of values) expect(jsonValue(value)).toBe(JSON.stringify(value));
  });

  // Every event field, each from its own column, with groups whose fields are often absent.
  const paths = [...EVENT_FIELDS.keys()];
  const columnOf = (path: string) => `c_${path.replace('.', '_')}`;
  const sync = syncFrom(`
version: 1
source:
  type: duckdb
  table: events
  primary_key: c_event_id
match:
  em: email
  external_id: [ext_a, ext_b]
  client_user_agent: agent
  click_id: click
  partner_id: partner
mappings:
${paths.map((p) => `  ${p}: ${columnOf(p)}`).join('\n')}
`);
  const { mapper, problems } = compileMapper(sync, { now: () => NOW });

  function valueFor(path: string, next: () => number): unknown {
    const field = EVENT_FIELDS.get(path)!;
    // A currency code is checked against ISO 4217: mostly valid codes, some in lowercase, a few not.
    if (path === 'custom_data.currency') return ['USD', 'eur', ' gbp ', 'JPY', 'DOLLARS'][Math.floor(next() * 5)];
    const text = () => Array.from({ length: 1 + Math.floor(next() * 10) }, () => PIECES[Math.floor(next() * PIECES.length)]).join('');
    switch (field.kind) {
      case 'enum': return field.values![Math.floor(next() * field.values!.length)];
      case 'unix_seconds': return new Date(NOW - Math.floor(next() * 86_400_000));
      case 'integer': return Math.floor((next() - 0.5) * 1e9);
      case 'decimal': return next() < 0.5 ? (next() * 1e5).toFixed(2) : next() * 1e3;
      case 'boolean': return next() < 0.5;
      case 'string_list': return [text(), text()];
      case 'contents': return [{ id: text(), item_price: (next() * 100).toFixed(2), quantity: 1 + Math.floor(next() * 5), item_name: text() }];
      default: return text();
    }
  }

  it('writes each event as JSON.stringify would write the values it carries', () => {
    expect(problems).toEqual([]);
    const next = random(7);
    let written = 0;
    for (let n = 0; n < 2000; n++) {
      const values: Record<string, unknown> = {
        email: next() < 0.7 ? `user${n}@example.com` : null,
        ext_a: next() < 0.5 ? `ext-${n}` : null,
        ext_b: next() < 0.5 ? `other-${n}` : null,
        // Text JSON writes as it is, and text it escapes, in turn.
        agent: next() < 0.9 ? (next() < 0.5 ? `Agent "${n}" \\ é` : `Agent/${n} (plain)`) : null,
        click: next() < 0.5 ? (next() < 0.5 ? `click\n${n}` : `click-${n}`) : null,
        partner: next() < 0.5 ? (next() < 0.5 ? `p\u2028${n}` : `p-${n}`) : null,
      };
      for (const path of paths) {
        const required = ['event_name', 'action_source', 'event_time', 'event_id'].includes(path);
        values[columnOf(path)] = required || next() < 0.4 ? valueFor(path, next) : null;
      }
      const row: Row = mapper!.columns.map((c) => values[c]);
      const outcome = mapper!.encode(row);
      if (outcome.json === undefined) continue;
      written++;
      const event = JSON.parse(outcome.json) as Record<string, Record<string, unknown>>;
      // Canonical: the same text JSON.stringify gives, so no escape, number or duplicate key differs.
      expect(JSON.stringify(event)).toBe(outcome.json);
      expect(outcome.eventId).toBe(event.event_id);
      for (const path of paths) {
        const [group, name] = path.includes('.') ? path.split('.') : [undefined, path];
        const carried = group ? event[group]?.[name!] : event[path];
        expect(carried, path).toEqual(fieldConverter(EVENT_FIELDS.get(path)!)(values[columnOf(path)]));
      }
      expect(event.user_data!.client_user_agent).toBe(values.agent ?? undefined);
      expect(event.user_data!.click_id).toBe(values.click ? String(values.click).trim() : undefined);
    }
    // Most rows become events (a blank event_id or no identifier rejects the rest); the seed fixes how many.
    expect(written).toBe(1260);
  });
});
