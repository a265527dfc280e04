import { describe, expect, it } from 'vitest';
import { planRead } from '../../src/sources/sql.js';

const types = new Map([['id', 'integer'], ['email', 'text'], ['at', 'timestamp']]);

describe('a read plan', () => {
  it('leaves rows with a null key out, unless a read from the start without a cursor asks for them (an audience)', () => {
    expect(planRead({ primary_key: 'id' }, types, ['email']).where).toMatch(/IS NOT NULL/);
    expect(planRead({ primary_key: 'id' }, types, ['email'], undefined, undefined, undefined, true).where).toBe('1 = 1');
    // With a cursor, or from a checkpoint, a null key could not be placed: still left out.
    expect(planRead({ primary_key: 'id', cursor: 'at' }, types, ['email'], undefined, undefined, undefined, true).where).toMatch(/"id" IS NOT NULL/);
    expect(planRead({ primary_key: 'id' }, types, ['email'], { cursor: null, key: '3' }, undefined, undefined, true).where).toMatch(/IS NOT NULL/);
  });
});
