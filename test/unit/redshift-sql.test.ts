// The SQL the Redshift source writes itself: type names from a RowDescription, checkpoint values as
// literals that read the same whether backslashes escape (Redshift) or not (PostgreSQL).
import { describe, expect, it } from 'vitest';
import { planRead } from '../../src/sources/sql.js';
import { inlined, literal, REDSHIFT_SQL, typeName } from '../../src/sources/redshift/sql.js';
import { parseSuper, withRedshiftPort } from '../../src/sources/redshift/index.js';

// A type modifier as the server sends it: the declared size, plus 4 (numeric: precision << 16 | scale, plus 4).
const numeric = (p: number, s: number) => ((p << 16) | s) + 4;

describe('Redshift type names', () => {
  it('names each type by its OID, with sizes from the modifier', () => {
    expect(typeName(1700, numeric(38, 10))).toBe('numeric(38,10)');
    expect(typeName(1700, numeric(12, 0))).toBe('numeric(12,0)');
    expect(typeName(1700, -1)).toBe('numeric');
    expect(typeName(1043, 256 + 4)).toBe('varchar(256)');
    expect(typeName(1043, 65535 + 4)).toBe('varchar(65535)');
    expect(typeName(1043, -1)).toBe('varchar');
    expect(typeName(1042, 3 + 4)).toBe('char(3)');
    expect([20, 21, 23, 16, 700, 701, 1082, 1083, 1114, 1184, 1266, 4000, 6551, 3000, 3001].map((oid) => typeName(oid, -1))).toEqual([
      'bigint', 'smallint', 'integer', 'boolean', 'real', 'double precision', 'date', 'time', 'timestamp', 'timestamptz', 'timetz',
      'super', 'varbyte', 'geometry', 'geography',
    ]);
    expect(typeName(99999, -1)).toBe('unknown type 99999');
  });
});

describe('Redshift literals', () => {
  it('doubles quotes and writes each backslash as CHR(92), so no backslash ever reaches the server', () => {
    expect(literal('2026-11-20 10:00:00.000002+00')).toBe("'2026-11-20 10:00:00.000002+00'");
    expect(literal("a'b")).toBe("'a''b'");
    expect(literal('a\\b')).toBe("('a' || CHR(92) || 'b')");
    expect(literal("\\'")).toBe("('' || CHR(92) || '''')");
    expect(literal('$1')).toBe("'$1'");
    for (const value of ["x\\'; DROP TABLE t; --", '\\\\', "'", '']) expect(literal(value)).not.toMatch(/\\/);
    expect(() => literal('a\0b')).toThrow(RangeError);
  });

  it('places each value where its parameter stood, column by column instead of a row comparison', () => {
    const types = new Map([['id', 'integer'], ['at', 'timestamptz']]);
    const config = { primary_key: 'id', cursor: 'at' };
    const after = { cursor: "2026-11-20 10:00:00+00", key: "7" };
    const { values } = planRead(config, types, ['id'], after, REDSHIFT_SQL, '2026-12-01 00:00:00');
    const plan = planRead(config, types, ['id'], after, inlined(REDSHIFT_SQL, values), '2026-12-01 00:00:00');
    expect(plan.where).toBe('pinsync_source."id" IS NOT NULL AND pinsync_source."at" IS NOT NULL'
      + " AND (pinsync_source.\"at\" > CAST('2026-11-20 10:00:00+00' AS timestamptz) OR (pinsync_source.\"at\" = CAST('2026-11-20 10:00:00+00' AS timestamptz)"
      + " AND pinsync_source.\"id\" > CAST('7' AS integer))) AND pinsync_source.\"at\" <= CAST('2026-12-01 00:00:00' AS timestamptz)");
    expect(plan.select).toBe('pinsync_source."id", CAST(pinsync_source."id" AS VARCHAR(65535)), CAST(pinsync_source."at" AS VARCHAR(65535))');
  });
});

describe('Redshift connection strings', () => {
  it("adds Redshift's port 5439 when the url names none, and leaves everything else as written", () => {
    expect(withRedshiftPort('postgres://u:p%2Fq@cluster.abc.us-east-1.redshift.amazonaws.com/dev?sslmode=verify-full'))
      .toBe('postgres://u:p%2Fq@cluster.abc.us-east-1.redshift.amazonaws.com:5439/dev?sslmode=verify-full');
    expect(withRedshiftPort('postgres://u:p@host:5440/dev')).toBe('postgres://u:p@host:5440/dev');
    expect(withRedshiftPort('not a url')).toBe('not a url');
  });
});

describe('Redshift SUPER values', () => {
  it('reads JSON text as values, and keeps any other text as text', () => {
    expect(parseSuper('[{"id":"A","quantity":2}]')).toEqual([{ id: 'A', quantity: 2 }]);
    expect(parseSuper('"abc"')).toBe('abc');
    expect(parseSuper('null')).toBeNull();
    expect(parseSuper('not json')).toBe('not json');
  });
});
