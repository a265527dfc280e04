// pg's row messages go through pinsync's decoder (src/patches/pg-data-rows.ts): whatever the
// bytes, each message must be exactly what pg-protocol's own parser makes of them, and a
// pg-protocol of another shape must be left as it is.
import { describe, expect, it } from 'vitest';
import { applyPatches } from '../../src/patches/index.js';
import { dataRowMessage as dataRow, decodeDataRow, installDataRowDecoder, pgProtocolOfPg, type PgProtocol } from '../../src/patches/pg-data-rows.js';

type Message = { name: string; fields?: (string | null)[] };
type ParserClass = new () => { parse(buffer: Buffer, callback: (message: Message) => void): void; handlePacket?: unknown };
const { Parser, DataRowMessage } = pgProtocolOfPg() as { Parser: ParserClass & { prototype: Record<string, unknown> }; DataRowMessage: NonNullable<PgProtocol['DataRowMessage']> };
// pg-protocol's own handler, taken before any test applies the patch.
const stockHandlePacket = Parser.prototype.handlePacket;

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

function parseAll(parser: InstanceType<ParserClass>, stream: Buffer, cut: (n: number) => number): Message[] {
  const messages: Message[] = [];
  // Fed in pieces cut at arbitrary points, as a socket delivers them: each a buffer of its own,
  // as pg-protocol's parser may write into the one it is given.
  for (let at = 0; at < stream.length;) {
    const size = 1 + cut(700);
    parser.parse(Buffer.from(stream.subarray(at, at + size)), (message) => messages.push(message));
    at += size;
  }
  return messages;
}

describe('decoding rows from PostgreSQL', () => {
  it('is installed in the pg-protocol that pg uses once patches apply, and only then', () => {
    expect(Parser.prototype.handlePacket).toBe(stockHandlePacket);
    expect(applyPatches().pgDataRows).toBe(true);
    expect(Parser.prototype.handlePacket).not.toBe(stockHandlePacket);
  });

  it('makes of every stream exactly the messages pg-protocol alone makes: ASCII, multi-byte, invalid bytes, empty, NULL, long', () => {
    applyPatches();
    const next = random(7);
    const rows = Array.from({ length: 3000 }, () => Array.from({ length: 1 + next(14) }, () => randomField(next)));
    // Also whole rows of ASCII with NULLs and lengths whose bytes are >= 0x80.
    rows.push([Buffer.from('a'.repeat(200)), null, Buffer.from('b'), Buffer.from('c'.repeat(70_000))]);
    const stream = Buffer.concat([...rows.map(dataRow), commandComplete()]);
    const seed = 11;
    const patched = parseAll(new Parser(), stream, random(seed));
    const unpatched = new Parser();
    unpatched.handlePacket = stockHandlePacket;
    const alone = parseAll(unpatched, stream, random(seed));
    expect(patched.map((m) => m.name)).toEqual([...rows.map(() => 'dataRow'), 'commandComplete']);
    expect(patched).toStrictEqual(alone);
    patched.slice(0, -1).forEach((message, i) => {
      expect(message.fields).toEqual(rows[i]!.map((field) => (field === null ? null : field.toString('utf8'))));
    });
  });

  it('refuses a field that runs past the end of its message', () => {
    const message = dataRow([Buffer.from('abc')]);
    message.writeInt32BE(4, 7); // the field claims 4 bytes; the message holds 3
    expect(() => decodeDataRow(message, 5, message.length)).toThrow(/malformed DataRow/);
    expect(decodeDataRow(dataRow([Buffer.from('abc'), null]), 5, 5 + 2 + 4 + 3 + 4)).toEqual(['abc', null]);
  });

  it('leaves pg-protocol as it is when it is missing, has another shape, or decodes rows otherwise', () => {
    expect(installDataRowDecoder(() => undefined)).toBe(false);
    expect(installDataRowDecoder(() => ({ Parser }))).toBe(false);
    // A handler with another signature.
    class OtherSignature extends Parser {}
    const threeArguments = function (this: unknown, offset: number, code: number, bytes: Buffer) { return [offset, code, bytes]; };
    Object.defineProperty(OtherSignature.prototype, 'handlePacket', { value: threeArguments, writable: true, configurable: true });
    expect(installDataRowDecoder(() => ({ Parser: OtherSignature as never, DataRowMessage }))).toBe(false);
    expect(OtherSignature.prototype.handlePacket).toBe(threeArguments);
    // A version whose row messages differ from what this decoder makes (fields kept as bytes).
    class BytesParser extends Parser {}
    const bytesHandler = function (this: unknown, offset: number, code: number, length: number, bytes: Buffer) {
      return code === 0x44 ? { name: 'dataRow', length, fields: [bytes.subarray(offset, offset + length - 4)] } : Reflect.apply(stockHandlePacket as never, this, [offset, code, length, bytes]);
    };
    Object.defineProperty(BytesParser.prototype, 'handlePacket', { value: bytesHandler, writable: true, configurable: true });
    expect(installDataRowDecoder(() => ({ Parser: BytesParser as never, DataRowMessage }))).toBe(false);
    expect(BytesParser.prototype.handlePacket).toBe(bytesHandler);
    const messages: Message[] = [];
    new BytesParser().parse(dataRow([Buffer.from('abc')]), (m) => messages.push(m));
    expect(messages[0]!.fields).toEqual([Buffer.from([0, 1, 0, 0, 0, 3, 0x61, 0x62, 0x63])]);
  });
});
