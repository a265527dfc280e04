// pg's row messages go through pinsync's decoder (src/sources/postgres/data-rows.ts): whatever
// the bytes, each field must read exactly as Buffer#toString reads it.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { dataRowDecoderInstalled } from '../../src/sources/postgres/driver.js';
import { decodeDataRow } from '../../src/sources/postgres/data-rows.js';

type Message = { name: string; fields?: (string | null)[] };
const requireFromPg = createRequire(createRequire(import.meta.url).resolve('pg'));
const { Parser } = requireFromPg('pg-protocol/dist/parser') as { Parser: new () => { parse(buffer: Buffer, callback: (message: Message) => void): void } };

function dataRow(fields: (Buffer | null)[]): Buffer {
  const body = Buffer.concat([
    Buffer.from([fields.length >> 8, fields.length & 0xff]),
    ...fields.map((field) => {
      const length = Buffer.alloc(4);
      length.writeInt32BE(field === null ? -1 : field.length);
      return field === null ? length : Buffer.concat([length, field]);
    }),
  ]);
  const header = Buffer.alloc(5);
  header[0] = 0x44;
  header.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

const commandComplete = () => {
  const tag = Buffer.from('SELECT 1\0');
  const header = Buffer.alloc(5);
  header[0] = 0x43;
  header.writeUInt32BE(tag.length + 4, 1);
  return Buffer.concat([header, tag]);
};

// A small deterministic generator, so a failure can be replayed.
function random(seed: number) {
  let state = seed;
  return (n: number) => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state % n;
  };
}

const SAMPLES = ['', 'user@example.com', 'Chloé', '東京', '🎉 party', 'x'.repeat(127), 'y'.repeat(128), 'z'.repeat(300), 'naïve'.repeat(40)];

function randomField(next: (n: number) => number): Buffer | null {
  switch (next(5)) {
    case 0: return null;
    case 1: return Buffer.from(SAMPLES[next(SAMPLES.length)]!);
    // Bytes that are not UTF-8: lone continuation bytes, truncated sequences, 0xff.
    case 2: return Buffer.from(Array.from({ length: next(8) }, () => [0x80, 0xbf, 0xc3, 0xe2, 0xf0, 0xff, 0x41][next(7)]!));
    default: return Buffer.from(Array.from({ length: next(40) }, () => 0x20 + next(0x5f)));
  }
}

function parseAll(stream: Buffer, cut: (n: number) => number): Message[] {
  const parser = new Parser();
  const messages: Message[] = [];
  // Fed in pieces cut at arbitrary points, as a socket delivers them.
  for (let at = 0; at < stream.length;) {
    const size = 1 + cut(700);
    parser.parse(stream.subarray(at, at + size), (message) => messages.push(message));
    at += size;
  }
  return messages;
}

describe('decoding rows from PostgreSQL', () => {
  it('is installed in the pg-protocol that pg uses', () => {
    expect(dataRowDecoderInstalled).toBe(true);
  });

  it('reads every field as Buffer#toString does: ASCII, multi-byte, invalid bytes, empty, NULL, long', () => {
    const next = random(7);
    const rows = Array.from({ length: 3000 }, () => Array.from({ length: 1 + next(14) }, () => randomField(next)));
    // Also whole rows of ASCII with NULLs and lengths whose bytes are >= 0x80.
    rows.push([Buffer.from('a'.repeat(200)), null, Buffer.from('b'), Buffer.from('c'.repeat(70_000))]);
    const stream = Buffer.concat([...rows.map(dataRow), commandComplete()]);
    const messages = parseAll(stream, next);
    expect(messages.map((m) => m.name)).toEqual([...rows.map(() => 'dataRow'), 'commandComplete']);
    messages.slice(0, -1).forEach((message, i) => {
      expect(message.fields).toEqual(rows[i]!.map((field) => (field === null ? null : field.toString('utf8'))));
    });
  });

  it('refuses a field that runs past the end of its message', () => {
    const message = dataRow([Buffer.from('abc')]);
    message.writeInt32BE(4, 7); // the field claims 4 bytes; the message holds 3
    expect(() => decodeDataRow(message, 5, message.length)).toThrow(/malformed DataRow/);
    expect(decodeDataRow(dataRow([Buffer.from('abc'), null]), 5, 5 + 2 + 4 + 3 + 4)).toEqual(['abc', null]);
  });
});
