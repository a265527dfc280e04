import { describe, expect, it } from 'vitest';
import { SeenIds } from '../../src/engine/seen-ids.js';

describe('SeenIds', () => {
  it('tells a first id from a repeat, across growth, for ids that differ in one character', () => {
    const seen = new SeenIds();
    const ids = Array.from({ length: 200_000 }, (_, i) => `ord_${i}`);
    expect(ids.every((id) => seen.add(id))).toBe(true);
    expect(seen.size).toBe(200_000);
    expect(ids.some((id) => seen.add(id))).toBe(false);
    expect(seen.add('ord_200000')).toBe(true);
    expect(seen.add('')).toBe(true);
    expect(seen.add('')).toBe(false);
  });

  it('reads an id out of a longer text by its range, as packed pages hold them', () => {
    const seen = new SeenIds();
    const packed = 'abcabdabc';
    expect(seen.add(packed, 0, 3)).toBe(true);
    expect(seen.add(packed, 3, 6)).toBe(true);
    expect(seen.add(packed, 6, 9)).toBe(false);
    expect(seen.add('abd')).toBe(false);
  });
});
