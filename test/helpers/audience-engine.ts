// What the audience engine tests share: a source in memory, and SHA-256 as Pinterest receives it.
import { createHash } from 'node:crypto';
import type { Source } from '../../src/sources/types.js';

export const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

export type Person = { id: number | null; email: string | null };

/** A source of people (id, email), read whole; `rows` may be a function, read at each read. */
export function memorySource(rows: Person[] | (() => Person[])): Source {
  return {
    columns: async () => ['id', 'email'],
    columnTypes: async () => new Map([['id', 'integer'], ['email', 'text']]),
    async *read(options) {
      const columns = options?.columns ?? ['id', 'email'];
      yield (typeof rows === 'function' ? rows() : rows).map((r) => columns.map((c) => r[c as keyof Person]));
    },
    unreadableRows: async () => ({ missing: 0, future: 0 }),
    checkKey: async () => ({ checked: 0, distinctKeys: 0, most: 0 }),
    positionOf: () => ({ cursor: null, key: null }),
    close: async () => undefined,
  };
}
