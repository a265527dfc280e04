// Snowflake's identifier rule (docs/adr/0013-snowflake-source.md) and its errors, without a server.
import { describe, expect, it } from 'vitest';
import type { SnowflakeSourceConfig } from '../../src/config/schema.js';
import { RefusedQueryError, SourceError } from '../../src/core/errors.js';
import { cursorKind } from '../../src/sources/cursor.js';
import { explainSnowflakeError } from '../../src/sources/snowflake/errors.js';
import { converterOf, sqlTypeOf } from '../../src/sources/snowflake/index.js';
import { exposedColumns, exposedName, quoteTable, snowflakeName } from '../../src/sources/snowflake/names.js';

describe('snowflake names', () => {
  it('shows an all-upper-case column in lower case and any other as it is', () => {
    expect(['EMAIL', 'ORDER_ID', 'Email', 'email', 'a b', 'X1'].map(exposedName)).toEqual(['email', 'order_id', 'Email', 'email', 'a b', 'x1']);
  });

  it('finds the column behind a name in one case in upper case, a mixed-case one exactly, a described one as described', () => {
    expect(['email', 'EMAIL', 'Email', 'order_id'].map((n) => snowflakeName(n))).toEqual(['EMAIL', 'EMAIL', 'Email', 'ORDER_ID']);
    expect(snowflakeName('email', new Map([['email', 'email']]))).toBe('email');
  });

  it('quotes each part of a table name: one case is a normal name, mixed case a quoted one', () => {
    expect(quoteTable('analytics.orders')).toBe('"ANALYTICS"."ORDERS"');
    expect(quoteTable('ANALYTICS.Orders')).toBe('"ANALYTICS"."Orders"');
    expect(quoteTable('db.analytics.my"table')).toBe('"DB"."ANALYTICS"."MY""TABLE"');
  });
});

describe('snowflake types', () => {
  const column = (type: string, precision = 0, scale = 0) => ({ getType: () => type, getPrecision: () => precision, getScale: () => scale });

  it('names types as a CAST takes them, and cursor kinds classify them', () => {
    const names = [column('fixed', 38, 0), column('fixed', 12, 2), column('real'), column('text'), column('timestamp_ntz'), column('timestamp_ltz'),
      column('timestamp_tz'), column('date'), column('variant'), column('boolean')].map(sqlTypeOf);
    expect(names).toEqual(['NUMBER(38,0)', 'NUMBER(12,2)', 'FLOAT', 'VARCHAR', 'TIMESTAMP_NTZ', 'TIMESTAMP_LTZ', 'TIMESTAMP_TZ', 'DATE', 'VARIANT', 'BOOLEAN']);
    expect(names.map(cursorKind)).toEqual(['integer', undefined, undefined, undefined, 'timestamp', 'timestamp', 'timestamp', 'date', undefined, undefined]);
  });

  it('converts driver values: FLOAT a number, timestamps plain Dates, DATE text, the rest as they are', () => {
    const sfDate = Object.assign(new Date('2026-11-20T10:00:00.123Z'), { toJSON: () => '2026-11-20 10:00:00.123' });
    expect(converterOf('real')('1.5')).toBe(1.5);
    expect(converterOf('real')(null)).toBeNull();
    expect(JSON.stringify(converterOf('timestamp_ntz')(sfDate))).toBe('"2026-11-20T10:00:00.123Z"');
    expect(converterOf('date')(new Date('2024-02-29T00:00:00Z'))).toBe('2024-02-29');
    expect(converterOf('fixed')('12345678901234567890.12')).toBe('12345678901234567890.12');
    expect(converterOf('variant')({ a: 1 })).toEqual({ a: 1 });
  });
});

describe('snowflake errors', () => {
  const config = { type: 'snowflake', account: 'acme-prod', user: 'PINSYNC', password: 'hunter2-secret', statement_timeout: '10m', primary_key: 'id' } as SnowflakeSourceConfig;
  const explain = (code: string, message = 'x') => explainSnowflakeError(Object.assign(new Error(message), { code }), config);

  it('gives each error a user meets one sentence with its fix', () => {
    expect(explain('390100').message).toMatch(/^Snowflake refused the login of user PINSYNC on account acme-prod: .*source\.password$/);
    expect(explain('390144').message).toMatch(/RSA_PUBLIC_KEY/);
    expect(explain('390303').message).toMatch(/OAuth token/);
    expect(explain('000606').message).toMatch(/set source\.warehouse/);
    expect(explain('002003', "SQL compilation error:\nObject 'SECRETS' does not exist or not authorized.").message).toMatch(/^Snowflake cannot find it, or the role may not read it: SQL compilation error: Object 'SECRETS' does not exist or not authorized\. Check .*SELECT on the table$/);
    expect(explain('000630').message).toBe('Snowflake cancelled the query after source.statement_timeout (10m): raise it, use a larger warehouse, or read less (a cursor, a narrower query)');
    expect(explain('000008')).toBeInstanceOf(RefusedQueryError);
    expect(explainSnowflakeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), config).message).toMatch(/^could not reach Snowflake/);
    // The same failure once rows are streaming is a lost connection: the account is not at fault.
    expect(explainSnowflakeError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), config, undefined, true).message)
      .toMatch(/^the connection to Snowflake was lost while reading rows \(read ECONNRESET\): run the sync again, it resumes from its last checkpoint/);
    expect(explainSnowflakeError(Object.assign(new Error('Request to Snowflake failed.'), { code: 401002, response: { status: 403 } }), config).message).toMatch(/^Snowflake does not know account acme-prod: check source\.account/);
    expect(explain('001003', 'SQL compilation error:\nsyntax error').message).toBe('Snowflake rejected the SQL: SQL compilation error: syntax error');
    for (const code of ['390100', '390144', '000606', '000630', '001003']) {
      expect(explain(code)).toBeInstanceOf(SourceError);
      expect(explain(code).message).not.toContain('hunter2-secret');
    }
  });
});

describe('exposedColumns', () => {
  it('maps each exposed name to its Snowflake column, in order', () => {
    expect([...exposedColumns(['ID', 'Email', 'CREATED_AT'])]).toEqual([['id', 'ID'], ['Email', 'Email'], ['created_at', 'CREATED_AT']]);
  });

  it('refuses two columns that would read as one name, naming both and the fix', () => {
    expect(() => exposedColumns(['ID', 'EMAIL', 'email'])).toThrow(
      `the Snowflake columns "EMAIL" and "email" both read as 'email' in the sync file: select them under different names in source.query (e.g. "email" AS email_2)`,
    );
  });
});
