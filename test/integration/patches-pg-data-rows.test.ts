// pinsync's DataRow decoder (src/patches/pg-data-rows.ts) against pg-protocol alone, on what a
// real PostgreSQL sends for every column type a sync can read: the same bytes must make the
// same messages, and the same query the same rows.
import { Socket } from 'node:net';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyPatches } from '../../src/patches/index.js';
import { pgProtocolOfPg } from '../../src/patches/pg-data-rows.js';
import { freshDatabase } from '../helpers/pg.js';

type ParserClass = new () => { parse(buffer: Buffer, callback: (message: unknown) => void): void; handlePacket?: unknown };
const { Parser } = pgProtocolOfPg() as { Parser: ParserClass & { prototype: Record<string, unknown> } };
const stockHandlePacket = Parser.prototype.handlePacket;

const COLUMNS = `id integer PRIMARY KEY, i2 smallint, i8 bigint, num numeric(14,4), r real, d double precision, b boolean,
  t text, vc varchar(20), ch char(6), dt date, ts timestamp, tstz timestamptz, tm time, tmtz timetz, iv interval,
  u uuid, j json, jb jsonb, by bytea, ip inet, net cidr, mac macaddr, arr text[], iarr integer[], mood mood, dom positive, x xml, pt point`;
const ROWS = `
  (1, 1, 9007199254740993, 1234567890.1234, 1.5, 2.25, true, 'user@example.com', 'Chloé', 'ab', '2026-12-02', '2026-12-02 07:00:00.123456',
   '2026-12-02 07:00:00.000001+00', '23:59:59.999999', '12:00+05:30', '1 year 2 mons 3 days 04:05:06', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
   '{"a": [1, "é"]}', '{"b": null}', '\\xdeadbeef', '192.0.2.1', '10.0.0.0/8', '08:00:2b:01:02:03', '{"x,y", NULL, "東京"}', '{1,NULL,3}', 'happy', 7, '<a>é</a>', '(1.5,2)'),
  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (3, -32768, -9223372036854775808, -0.0001, 'NaN', '-Infinity', false, '', '', '', 'infinity', '-infinity', 'infinity', '00:00', '00:00+00', '-1 day',
   '00000000-0000-0000-0000-000000000000', '[]', '{}', '\\x', '::1', '::/0', 'ff:ff:ff:ff:ff:ff', '{}', '{}', 'sad', 1, '', '(0,0)'),
  (4, 32767, 9223372036854775807, 99999999.9999, 3.4e38, 1e308, true, repeat('naïve 🎉 ', 9000), repeat('x', 20), 'ééé', '1900-01-01', '2000-02-29 00:00:00',
   '1999-12-31 23:59:59.999999-08', '12:34:56', '12:34:56-11', '00:00:00.000001', 'ffffffff-ffff-ffff-ffff-ffffffffffff', (repeat('[1,', 2000) || '1' || repeat(']', 2000))::json,
   '{"tab": "\\t", "nl": "\\n"}', decode(repeat('ff00', 40000), 'hex'), '2001:db8::ff00:42:8329', '2001:db8::/32', '00:00:00:00:00:00', ARRAY[repeat('y', 70000)], ARRAY[1,2,3], 'happy', 2147483647, '<b/>', '(-1e10,1e-10)')`;

let url: string;

beforeAll(async () => {
  url = await freshDatabase('patches_data_rows');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`CREATE TYPE mood AS ENUM ('happy', 'sad'); CREATE DOMAIN positive AS integer CHECK (VALUE > 0)`);
  await client.query(`CREATE TABLE every_type (${COLUMNS})`);
  await client.query(`INSERT INTO every_type VALUES ${ROWS}`);
  await client.end();
});

/** The query's rows, as pg makes them, and every byte the server sent on that connection. */
async function readWithBytes(sql: string): Promise<{ rows: unknown[]; bytes: Buffer }> {
  const chunks: Buffer[] = [];
  const stream = () => {
    const socket = new Socket();
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    return socket;
  };
  const client = new pg.Client({ connectionString: url, stream });
  await client.connect();
  try {
    const { rows } = await client.query({ text: sql, rowMode: 'array' });
    return { rows, bytes: Buffer.concat(chunks) };
  } finally {
    await client.end();
  }
}

const parse = (parser: InstanceType<ParserClass>, bytes: Buffer) => {
  const messages: unknown[] = [];
  // In pieces of 4 KiB, so long rows span several of them, as from a socket: each a buffer of
  // its own, as pg-protocol's parser may write into the one it is given.
  for (let at = 0; at < bytes.length; at += 4096) parser.parse(Buffer.from(bytes.subarray(at, at + 4096)), (message) => messages.push(message));
  return messages;
};

describe('decoding rows from a real PostgreSQL', () => {
  it('gives for every column type the messages and the rows pg-protocol alone gives', async () => {
    const sql = 'SELECT * FROM every_type ORDER BY id';
    // Also each type as text, as the reading of a cursor column casts it.
    const asText = `SELECT ${COLUMNS.split(/,\s+(?![^(]*\))/).map((c) => `${c.trim().split(' ')[0]}::text`).join(', ')} FROM every_type ORDER BY id`;
    expect(Parser.prototype.handlePacket).toBe(stockHandlePacket);
    const alone = await readWithBytes(sql);
    const aloneText = await readWithBytes(asText);
    expect(applyPatches().pgDataRows).toBe(true);
    const patched = await readWithBytes(sql);
    const patchedText = await readWithBytes(asText);
    expect(patched.rows).toHaveLength(4);
    expect(patched.rows).toStrictEqual(alone.rows);
    expect(patchedText.rows).toStrictEqual(aloneText.rows);
    expect((patchedText.rows[3] as string[])[7]).toBe('naïve 🎉 '.repeat(9000));

    // The same bytes, through pg-protocol's own handler and through the patched one.
    for (const { bytes } of [alone, aloneText]) {
      const unpatched = new Parser();
      unpatched.handlePacket = stockHandlePacket;
      const stock = parse(unpatched, bytes);
      expect(stock.filter((m) => (m as { name: string }).name === 'dataRow')).toHaveLength(4);
      expect(parse(new Parser(), bytes)).toStrictEqual(stock);
    }
  });
});
