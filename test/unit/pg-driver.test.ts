// pg loads as it is, with no stand-in `navigator` (pinsync no longer changes globalThis): its
// check for Cloudflare Workers must still pick Node's sockets, on Node 20 as on later versions.
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { pg } from '../../src/sources/postgres/driver.js';

describe('loading pg', () => {
  it('connects through Node sockets, not Cloudflare\'s, and leaves navigator as the runtime has it', () => {
    const client = new pg.Client({ host: '127.0.0.1', port: 1 }) as unknown as { connection: { stream: unknown } };
    expect(client.connection.stream).toBeInstanceOf(Socket);
    expect('navigator' in globalThis).toBe(Number(process.versions.node.split('.')[0]) >= 21);
  });
});
