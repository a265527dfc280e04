// Timestamps as PostgreSQL writes them in a UTC session with ISO DateStyle
// ("2026-11-20 10:00:00.123456+00"), read without a regular expression: a run parses one or
// more per row, and pg's general parser was a measurable share of a run's time. Anything else
// (other offsets, BC, infinity, years before 100 or after 9999) goes to the general parser.
import { pg } from './driver.js';

const ZERO = 48;

function digits(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return NaN;
    value = value * 10 + d;
  }
  return value;
}

/** Epoch milliseconds of "YYYY-MM-DD HH:MM:SS[.ffffff]" followed by `suffix`, or NaN when the text has another shape. */
function utcMillis(text: string, suffix: string): number {
  const end = text.length - suffix.length;
  if (end < 19 || !text.endsWith(suffix) || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 32
    || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return NaN;
  const year = digits(text, 0, 4);
  if (!(year >= 100)) return NaN;
  let ms = 0;
  if (end > 19) {
    if (text.charCodeAt(19) !== 46 || end === 20) return NaN;
    // Milliseconds, as pg's own parser keeps them: further digits are dropped, not rounded.
    const fraction = digits(text, 20, end);
    if (Number.isNaN(fraction)) return NaN;
    ms = digits(`${text.slice(20, Math.min(end, 23))}00`, 0, 3);
  }
  return Date.UTC(year, digits(text, 5, 7) - 1, digits(text, 8, 10), digits(text, 11, 13), digits(text, 14, 16), digits(text, 17, 19), ms);
}

const generalTimestamptz = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text') as (text: string) => Date;

/** `timestamp with time zone`, read in a UTC session. */
export function parseTimestamptz(text: string): Date {
  const ms = utcMillis(text, '+00');
  return Number.isNaN(ms) ? generalTimestamptz(text) : new Date(ms);
}

/** `timestamp without time zone`, read as UTC (not as the machine's local time). */
export function parseTimestamp(text: string): Date {
  const ms = utcMillis(text, '');
  return Number.isNaN(ms) ? new Date(`${text.replace(' ', 'T')}Z`) : new Date(ms);
}
