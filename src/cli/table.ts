// `preview --format table`: one line per event for people, identifiers shown by key only.
import type { Event } from '../mapping/compile.js';

const COLUMNS = [
  ['event_id', 18], ['event_name', 17], ['event_time (UTC)', 20], ['value', 10], ['currency', 8],
] as const;

const cell = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width));

export function tableFormatter(): { header(): string; row(event: Event): string } {
  return {
    header: () => [...COLUMNS.map(([name, width]) => cell(name, width)), 'user_data keys'].join('  '),
    row: (event) => {
      const custom = (event.custom_data ?? {}) as Record<string, unknown>;
      const time = typeof event.event_time === 'number' ? new Date(event.event_time * 1000).toISOString().slice(0, 19).replace('T', ' ') : '';
      const values = [String(event.event_id ?? ''), String(event.event_name ?? ''), time, String(custom.value ?? ''), String(custom.currency ?? '')];
      const keys = Object.keys((event.user_data ?? {}) as object).join(' ');
      return [...values.map((v, i) => cell(v, COLUMNS[i]![1])), keys].join('  ');
    },
  };
}
