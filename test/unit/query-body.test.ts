// What a sync's query may carry after its one statement, and what must stay as written.
import { describe, expect, it } from 'vitest';
import { queryBody } from '../../src/sources/sql.js';

describe('queryBody', () => {
  it.each([
    ['SELECT id FROM t;', 'SELECT id FROM t'],
    ['SELECT id FROM t;;', 'SELECT id FROM t'],
    ['SELECT id FROM t ; ;\n', 'SELECT id FROM t'],
    ['SELECT id FROM t; -- done', 'SELECT id FROM t'],
    ['SELECT id FROM t;\n-- done\n', 'SELECT id FROM t'],
    ['SELECT id FROM t -- no semicolon', 'SELECT id FROM t -- no semicolon'],
  ])('%j reads as %j', (query, body) => {
    expect(queryBody(query)).toBe(body);
  });

  it('leaves a comment with a quote alone: it may be the inside of a string', () => {
    expect(queryBody("SELECT 'a; -- it''s' AS x")).toBe("SELECT 'a; -- it''s' AS x");
  });
});
