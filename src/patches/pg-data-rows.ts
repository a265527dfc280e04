// pg-protocol's DataRow messages (a row of query results) decoded without its general reader:
// lengths read from the bytes, text straight to Buffer's UTF-8 conversion. Every other message
// stays with pg-protocol. Why, the measurement, and how to remove it: docs/adr/0010-pg-data-row-decoder.md.
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';

const DATA_ROW = 0x44; // 'D'
const NULL_LENGTH = -1;

type Utf8Slice = (this: Buffer, start: number, end: number) => string;
// Buffer's own conversion, which toString calls once it has checked its arguments: not in Node's
// documentation, so toString stands in should it ever go.
const utf8Slice: Utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: Utf8Slice }).utf8Slice
  ?? function (this: Buffer, start: number, end: number) { return this.toString('utf8', start, end); };

/** The fields of a DataRow message whose body (after its length word) is `bytes[start, end)`. */
export function decodeDataRow(bytes: Buffer, start: number, end: number): (string | null)[] {
  if (end - start < 2 || end > bytes.length) throw new RangeError('malformed DataRow message from PostgreSQL');
  const count = (bytes[start]! << 8) | bytes[start + 1]!;
  const fields = new Array<string | null>(count);
  let at = start + 2;
  for (let i = 0; i < count; i++) {
    if (at + 4 > end) throw new RangeError('malformed DataRow message from PostgreSQL');
    const length = (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
    at += 4;
    if (length === NULL_LENGTH) {
      fields[i] = null;
      continue;
    }
    if (length < 0 || at + length > end) throw new RangeError('malformed DataRow message from PostgreSQL');
    fields[i] = utf8Slice.call(bytes, at, at + length);
    at += length;
  }
  return fields;
}

type HandlePacket = (this: unknown, offset: number, code: number, length: number, bytes: Buffer) => unknown;
export interface PgProtocol {
  Parser?: { new (): { parse(buffer: Buffer, callback: (message: unknown) => void): void }; prototype: Record<PropertyKey, unknown> };
  DataRowMessage?: new (length: number, fields: (string | null)[]) => unknown;
}
const INSTALLED = Symbol.for('pinsync.decodeDataRow');

/** The pg-protocol that pg itself loads (its dist/ modules), or undefined when it cannot be found. */
export function pgProtocolOfPg(): PgProtocol | undefined {
  try {
    const requireFromPg = createRequire(createRequire(import.meta.url).resolve('pg'));
    const { Parser } = requireFromPg('pg-protocol/dist/parser') as PgProtocol;
    const { DataRowMessage } = requireFromPg('pg-protocol/dist/messages') as PgProtocol;
    return { Parser, DataRowMessage };
  } catch {
    return undefined;
  }
}

/** A DataRow message as PostgreSQL sends it: NULL, empty, ASCII, multi-byte and invalid UTF-8. */
export function dataRowMessage(fields: (Buffer | null)[]): Buffer {
  const body = Buffer.concat([
    Buffer.from([fields.length >> 8, fields.length & 0xff]),
    ...fields.map((field) => {
      const length = Buffer.alloc(4);
      length.writeInt32BE(field === null ? NULL_LENGTH : field.length);
      return field === null ? length : Buffer.concat([length, field]);
    }),
  ]);
  const header = Buffer.from([DATA_ROW, 0, 0, 0, 0]);
  header.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

const SAMPLE = dataRowMessage([null, Buffer.from(''), Buffer.from('user@example.com'), Buffer.from('Chloé 東京 🎉'), Buffer.from([0x41, 0xc3, 0xff, 0x80])]);

function parseOne(Parser: NonNullable<PgProtocol['Parser']>, bytes: Buffer): unknown[] {
  const messages: unknown[] = [];
  // A copy: pg-protocol's parser may write into the buffer it is given.
  new Parser().parse(Buffer.from(bytes), (message) => messages.push(message));
  return messages;
}

/**
 * Routes the DataRow messages of the pg-protocol that pg uses through `decodeDataRow`. Returns
 * false, leaving pg-protocol as it is, unless it has the shape this was written against and
 * its own parser and this decoder give the same message for a sample row.
 */
export function installDataRowDecoder(locate: () => PgProtocol | undefined = pgProtocolOfPg): boolean {
  const { Parser, DataRowMessage } = locate() ?? {};
  const parser = Parser?.prototype;
  if (!Parser || !parser || typeof DataRowMessage !== 'function') return false;
  if (Object.hasOwn(parser, INSTALLED)) return true;
  const stock = parser.handlePacket as HandlePacket | undefined;
  // handlePacket(offset of the body, message code, length including its own 4 bytes, buffer)
  if (typeof stock !== 'function' || stock.length !== 4) return false;
  const handlePacket: HandlePacket = function (this: unknown, offset, code, length, bytes) {
    return code === DATA_ROW ? new DataRowMessage(length, decodeDataRow(bytes, offset, offset + length - 4)) : stock.call(this, offset, code, length, bytes);
  };
  try {
    const expected = parseOne(Parser, SAMPLE);
    parser.handlePacket = handlePacket;
    if (!isDeepStrictEqual(parseOne(Parser, SAMPLE), expected)) {
      parser.handlePacket = stock;
      return false;
    }
  } catch {
    parser.handlePacket = stock;
    return false;
  }
  parser[INSTALLED] = true;
  return true;
}
