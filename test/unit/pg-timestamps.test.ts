// The fast timestamp parsers of the PostgreSQL source must read every value exactly as pg's
// own parsers do (which they replace on the hot path), whatever shape the text has.
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { parseTimestamp, parseTimestamptz } from '../../src/sources/postgres/timestamps.js';

const pgTimestamptz = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text') as (text: string) => Date | number;
const time = (value: Date | number) => (value instanceof Date ? value.getTime() : value);

// Text as PostgreSQL writes it in a UTC session with DateStyle ISO: fraction digits trimmed of trailing zeros.
function pgText(ms: number, micros: number): string {
  const iso = new Date(ms).toISOString();
  const fraction = `${iso.slice(20, 23)}${String(micros).padStart(3, '0')}`.replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction ? `.${fraction}` : ''}`;
}

describe('PostgreSQL timestamp parsing', () => {
  it('reads random timestamptz and timestamp values exactly as pg does', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 5000; i++) {
      // From year 1000 to 9999, with every number of fraction digits.
      const ms = Math.floor(-30_610_224_000_000 + random() * 283_748_000_000_000);
      const text = pgText(ms, Math.floor(random() * 1000));
      expect(parseTimestamptz(`${text}+00`).getTime(), text).toBe(time(pgTimestamptz(`${text}+00`)));
      expect(parseTimestamp(text).getTime(), text).toBe(new Date(`${text.replace(' ', 'T')}Z`).getTime());
    }
  });

  it('hands every other shape to the general parser', () => {
    const shapes = [
      '2026-11-20 10:00:00+05:30', '2026-11-20 10:00:00-08', '0099-01-01 00:00:00+00', '2026-11-20 10:00:00+00 BC',
      '12026-11-20 10:00:00+00', '2026-11-20 10:00:00.+00', '2026-11-20 10:00:0x+00', '2026-11-20T10:00:00+00',
    ];
    for (const text of shapes) expect(parseTimestamptz(text), text).toEqual(pgTimestamptz(text));
    expect(parseTimestamptz('2026-11-20 10:00:00.5+00').toISOString()).toBe('2026-11-20T10:00:00.500Z');
    expect(parseTimestamptz('2026-11-20 10:00:00.123999+00').toISOString()).toBe('2026-11-20T10:00:00.123Z');
    expect(parseTimestamp('2026-11-20 23:59:59.999999').toISOString()).toBe('2026-11-20T23:59:59.999Z');
  });
});
