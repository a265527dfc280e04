// The Conversions API client against the fake server on 127.0.0.1, with a recorded clock.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PinterestClient } from '../../src/pinterest/client.js';
import { AuthError, RetriesExhaustedError } from '../../src/core/errors.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';
import { encodeEvents, MAX_EVENT_BYTES } from '../../src/mapping/encode.js';
import { EncodedEvents } from '../../src/core/encoded-events.js';
import { MAX_REQUEST_BYTES } from '../../src/pinterest/client.js';

let fake: FakePinterest;
const waits: number[] = [];

const event = (id: string) => ({
  event_name: 'checkout', action_source: 'web', event_time: Math.floor(Date.now() / 1000) - 60, event_id: id,
  user_data: { em: ['a'.repeat(64)] },
});

function client(overrides: Partial<ConstructorParameters<typeof PinterestClient>[0]> = {}): PinterestClient {
  return new PinterestClient({
    adAccountId: fake.adAccountId, accessToken: fake.token, apiUrl: fake.url, userAgent: 'pinsync/test',
    maxRetryMs: 60_000, random: () => 1, sleep: async (ms) => void waits.push(ms), ...overrides,
  });
}

beforeAll(async () => {
  fake = await new FakePinterest().start();
});
afterAll(() => fake.stop());
beforeEach(() => {
  fake.reset();
  waits.length = 0;
});

describe('Pinterest client', () => {
  it('returns one result per event and sends ?test=true in test mode', async () => {
    fake.failEvents.set('b', 'Invalid event.');
    const results = await client({ test: true }).send(encodeEvents([event('a'), event('b')]));
    expect(results).toEqual([{ status: 'processed' }, { status: 'failed', error: 'Invalid event.' }]);
    expect([...fake.testDelivered.keys()]).toEqual(['a']);
    expect(fake.delivered.size).toBe(0);
  });

  it('waits as long as Retry-After says, in seconds or as a date, and backs off exponentially otherwise', async () => {
    fake.script.push(
      { status: 429, retryAfter: '3' },
      { status: 429, retryAfter: new Date(Date.now() + 5_000).toUTCString() },
      { status: 503 }, { status: 502 },
    );
    expect(await client().send(encodeEvents([event('a')]))).toEqual([{ status: 'processed' }]);
    expect(waits[0]).toBe(3000);
    expect(waits[1]).toBeGreaterThan(3000);
    expect(waits[1]).toBeLessThanOrEqual(5000);
    // Full jitter with random() = 1: the ceiling, doubling from 500 ms.
    expect(waits.slice(2)).toEqual([2000, 4000]);
  });

  it('draws each backoff uniformly below its ceiling (full jitter)', async () => {
    fake.script.push({ status: 503 }, { status: 503 });
    await client({ random: () => 0.25 }).send(encodeEvents([event('a')]));
    expect(waits).toEqual([125, 250]);
  });

  it('gives up when the next wait would pass max_retry_time', async () => {
    fake.always = { status: 503 };
    const error = await client({ maxRetryMs: 3_000 }).send(encodeEvents([event('a')])).catch((e: Error) => e);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as Error).message).toMatch(/last: 503: scripted 503\); gave up after \d+ attempts/);
  });

  it('raises AuthError on 401 and 403 without retrying, and never shows the token', async () => {
    const bad = client({ accessToken: 'pina_not_the_token' });
    const unauthorized = await bad.send(encodeEvents([event('a')])).catch((e: Error) => e);
    expect(unauthorized).toBeInstanceOf(AuthError);
    expect((unauthorized as Error).message).not.toContain('pina_not_the_token');
    const forbidden = await client({ adAccountId: '42' }).send(encodeEvents([event('a')])).catch((e: Error) => e);
    expect((forbidden as Error).message).toMatch(/ad account 42 \(403/);
    expect(waits).toEqual([]);
    expect(fake.requests).toBe(2);
  });

  it('isolates the events of a batch refused with 400, in order', async () => {
    fake.badRequestEvents.add('c');
    const results = await client().send(encodeEvents(['a', 'b', 'c', 'd', 'e'].map(event)));
    expect(results.map((r) => r.status)).toEqual(['processed', 'processed', 'failed', 'processed', 'processed']);
    expect([...fake.delivered.keys()].sort()).toEqual(['a', 'b', 'd', 'e']);
  });

  it.each([
    ['an events list one short, with counts that say all were processed', { num_events_received: 3, num_events_processed: 3, events: [{ status: 'processed' }, { status: 'processed' }] }],
    ['an events list one too long', { num_events_received: 3, num_events_processed: 3, events: Array(4).fill({ status: 'processed' }) }],
    ['no events list, only counts', { num_events_received: 3, num_events_processed: 3 }],
    ['events that is not a list', { num_events_received: 3, num_events_processed: 3, events: { status: 'processed' } }],
    ['a result without a status', { num_events_received: 3, num_events_processed: 3, events: [{ status: 'processed' }, {}, { status: 'processed' }] }],
    ['a result with an unknown status', { num_events_received: 3, num_events_processed: 3, events: [{ status: 'processed' }, { status: 'ok' }, { status: 'processed' }] }],
    ['an empty JSON body', null],
  ])('settles nothing on a 200 with %s: it retries, and the retry settles the batch', async (_what, body) => {
    fake.script.push({ status: 200, body });
    const results = await client().send(encodeEvents(['a', 'b', 'c'].map(event)));
    expect(results).toEqual(Array(3).fill({ status: 'processed' }));
    expect(waits).toEqual([500]);
    expect(fake.requests).toBe(2);
  });

  it('settles nothing on a 200 that is not JSON (an HTML page), and retries it', async () => {
    fake.script.push({ status: 200, raw: '<html><body><h1>Service Unavailable</h1></body></html>' });
    expect(await client().send(encodeEvents([event('a')]))).toEqual([{ status: 'processed' }]);
    expect(waits).toEqual([500]);
  });

  it('fails the batch when every 200 leaves an event out, naming what was wrong', async () => {
    fake.mangle = (body) => ({ ...body, events: body.events.slice(1) });
    const error = await client({ maxRetryMs: 3_000 }).send(encodeEvents(['a', 'b'].map(event))).catch((e: Error) => e);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as Error).message).toMatch(/last: 200 without a result for every event \(1 results for 2 events\)\); gave up after \d+ attempts/);
  });

  it('halves a batch refused with 413, and records an event refused alone as a reject', async () => {
    fake.tooLargeEvents.add('c');
    const results = await client().send(encodeEvents(['a', 'b', 'c', 'd', 'e'].map(event)));
    expect(results).toEqual([
      { status: 'processed' }, { status: 'processed' }, { status: 'failed', error: '413: Request entity too large.' }, { status: 'processed' }, { status: 'processed' },
    ]);
    expect([...fake.delivered.keys()].sort()).toEqual(['a', 'b', 'd', 'e']);
    expect(fake.duplicates()).toEqual([]);
  });

  it("names a proxy's HTML 413 page by its words in the reject", async () => {
    fake.script.push({ status: 413, raw: '<html>\n<head><title>413 Request Entity Too Large</title></head>\n<body></body></html>' });
    expect(await client().send(encodeEvents([event('a')]))).toEqual([{ status: 'failed', error: '413: a non-JSON answer (413 Request Entity Too Large)' }]);
  });

  it('splits a batch of 1,000 events near the size limit into requests no larger than the request limit', async () => {
    const big = (id: string) => ({ ...event(id), custom_data: { content_ids: ['x'.repeat(MAX_EVENT_BYTES - 400)] } });
    const batch = encodeEvents(Array.from({ length: 1000 }, (_, i) => big(`e${i}`)));
    expect(batch.at(0).page.offsets[1]).toBeLessThanOrEqual(MAX_EVENT_BYTES + 1);
    expect(batch.requestChunks().length).toBeGreaterThan(MAX_REQUEST_BYTES);
    const results = await client().send(batch);
    expect(results.every((r) => r.status === 'processed')).toBe(true);
    expect(fake.delivered.size).toBe(1000);
    expect(Math.max(...fake.bodies.map((b) => Buffer.byteLength(b)))).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    expect(waits).toEqual([]);
  });

  it('fails at once, in a few requests, when a 100-event batch is refused with 400 whatever it holds', async () => {
    fake.always = { status: 400, body: { code: 4196, message: 'The request was invalid.' } };
    const error = await client().send(encodeEvents(Array.from({ length: 100 }, (_, i) => event(`e${i}`)))).catch((e: Error) => e);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as Error).message).toMatch(/refused a batch of 100 events with 400 \(The request was invalid\.\), and each of 3 of its events sent alone/);
    expect(fake.requests).toBeLessThanOrEqual(4);
  });

  it('still isolates bad events that are many but not all, in every part of the batch', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => `e${i}`);
    // Every seventh: the first and the last event among them, both halves hold some.
    const bad = ids.filter((_, i) => i % 7 === 0);
    for (const id of bad) fake.badRequestEvents.add(id);
    const results = await client().send(encodeEvents(ids.map(event)));
    expect(results.map((r, i) => (r.status === 'failed' ? ids[i] : undefined)).filter(Boolean)).toEqual(bad);
    expect(results.filter((r) => r.status === 'failed').every((r) => r.status === 'failed' && r.error === '400: The request was invalid.')).toBe(true);
    expect([...fake.delivered.keys()].sort()).toEqual(ids.filter((id) => !bad.includes(id)).sort());
    expect(fake.duplicates()).toEqual([]);
  });

  it('says when Retry-After asks for longer than max_retry_time allows, without waiting', async () => {
    fake.script.push({ status: 429, retryAfter: '86400' });
    const error = await client({ maxRetryMs: 600_000 }).send(encodeEvents([event('a')])).catch((e: Error) => e);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as Error).message).toBe('Pinterest asked to wait 86400s (Retry-After, after 429: scripted 429), longer than destination.max_retry_time (10m) allows; the run stopped and the next run resends this batch');
    expect(waits).toEqual([]);
  });

  it('reads per-event results from a 422', async () => {
    fake.failuresAs422 = true;
    fake.failEvents.set('a', 'Too old.');
    expect(await client().send(encodeEvents([event('a'), event('b')]))).toEqual([{ status: 'failed', error: 'Too old.' }, { status: 'processed' }]);
  });
});

/** A server on 127.0.0.1 that answers each request through `handle`, and counts its connections. */
async function rawServer(handle: (req: IncomingMessage, res: ServerResponse, n: number) => void) {
  let requests = 0;
  let connections = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handle(req, res, ++requests));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v5`,
    counts: () => ({ requests, connections }),
    stop: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const processedAnswer = (res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ num_events_received: 1, num_events_processed: 1, events: [{ status: 'processed' }] }));
};

describe('Pinterest client over the network', () => {
  it('retries a refused connection as a network error, then gives up naming it', async () => {
    const closed = await rawServer(() => undefined);
    await closed.stop();
    const c = client({ apiUrl: closed.url, maxRetryMs: 3_000 });
    const error = await c.send(encodeEvents([event('a')])).catch((e: Error) => e);
    await c.close();
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as Error).message).toMatch(/last: network error: connect ECONNREFUSED/);
    expect(waits).toEqual([500, 1000, 2000]);
  });

  it('gives up on a server that stays silent past the timeout, and retries the batch', async () => {
    const server = await rawServer((_req, res, n) => (n === 1 ? undefined : processedAnswer(res)));
    try {
      const c = client({ apiUrl: server.url, timeoutMs: 200 });
      expect(await c.send(encodeEvents([event('a')]))).toEqual([{ status: 'processed' }]);
      expect(waits).toEqual([500]);
      expect(server.counts().requests).toBe(2);
      await c.close();
    } finally {
      await server.stop();
    }
  });

  it('names the timeout when the server never answers', async () => {
    const server = await rawServer(() => undefined);
    try {
      const c = client({ apiUrl: server.url, timeoutMs: 100, maxRetryMs: 1_000 });
      const error = await c.send(encodeEvents([event('a')])).catch((e: Error) => e);
      await c.close();
      expect((error as Error).message).toMatch(/last: network error: no answer within 0.1s \(destination.timeout\)/);
    } finally {
      await server.stop();
    }
  });

  it('retries a batch whose answer breaks off in the middle', async () => {
    const server = await rawServer((_req, res, n) => {
      if (n > 1) return processedAnswer(res);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"events":[');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    try {
      const c = client({ apiUrl: server.url });
      expect(await c.send(encodeEvents([event('a')]))).toEqual([{ status: 'processed' }]);
      expect(waits).toEqual([500]);
      await c.close();
    } finally {
      await server.stop();
    }
  });

  it('sends a batch as its runs of bytes under one content-length, and the same bytes again on a retry', async () => {
    const received: { text: string; contentLength: number }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({ text: Buffer.concat(chunks).toString('utf8'), contentLength: Number(req.headers['content-length']) });
        if (received.length === 1) {
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end('{"code":1,"message":"busy"}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ num_events_received: 3, num_events_processed: 3, events: Array(3).fill({ status: 'processed' }) }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      // Rows of two pages, one row left out between: three runs of bytes, multi-byte text in one.
      const first = encodeEvents([event('a-é'), event('left-out'), event('b')]).at(0).page;
      const second = encodeEvents([event('c-€')]).at(0).page;
      const batch = new EncodedEvents();
      batch.add(first, 0);
      batch.add(first, 2);
      batch.add(second, 0);
      // A wrong body fails within seconds, not after a test timeout.
      const c = client({ apiUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v5`, timeoutMs: 5_000, maxRetryMs: 5_000 });
      expect(await c.send(batch)).toEqual(Array(3).fill({ status: 'processed' }));
      await c.close();
      expect(waits).toEqual([500]);
      expect(received).toHaveLength(2);
      expect(received[1]).toEqual(received[0]);
      expect((JSON.parse(received[0]!.text) as { data: { event_id: string }[] }).data.map((e) => e.event_id)).toEqual(['a-é', 'b', 'c-€']);
      expect(received[0]!.contentLength).toBe(Buffer.byteLength(received[0]!.text));
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('fails at once, without retrying, when a body does not add up to its content-length', async () => {
    const server = await rawServer((_req, res) => processedAnswer(res));
    try {
      const c = client({ apiUrl: server.url, maxRetryMs: 2_000 });
      // As if the body were built wrong: 11 bytes announced as 20.
      const wrong = Object.assign(encodeEvents([event('a')]), { requestChunks: () => ({ chunks: [Buffer.from('{"data":[]}')], length: 20 }) });
      const error = await c.send(wrong).catch((e: Error) => e);
      await c.close();
      expect(error).not.toBeInstanceOf(RetriesExhaustedError);
      expect((error as Error).message).toMatch(/does not match its length .*this is a bug/);
      expect(waits).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  it('cuts an answer that drips a byte at a time at destination.timeout, retries it, and gives up within max_retry_time', async () => {
    fake.always = { status: 200, dripMs: 100 };
    const started = Date.now();
    const c = client({ apiUrl: fake.url, timeoutMs: 1_000, maxRetryMs: 3_000 });
    const error = await c.send(encodeEvents([event('a')])).catch((e: Error) => e);
    await c.close();
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as Error).message).toMatch(/last: network error: no answer (within 1s \(destination.timeout\)|before destination.max_retry_time \(3s\) ran out)\)/);
    // Generous: a gap timeout (undici's) would never fire, the drip keeps it fed.
    expect(Date.now() - started).toBeLessThan(8_000);
    await fake.idle();
    expect(fake.dripping).toBe(0);
  });

  it('cuts the attempt in progress when max_retry_time runs out before destination.timeout', async () => {
    fake.always = { status: 200, dripMs: 100 };
    const started = Date.now();
    const c = client({ apiUrl: fake.url, timeoutMs: 30_000, maxRetryMs: 1_000 });
    const error = await c.send(encodeEvents([event('a')])).catch((e: Error) => e);
    await c.close();
    expect((error as Error).message).toMatch(/Pinterest kept failing for 1s \(last: network error: no answer before destination.max_retry_time \(1s\) ran out\); gave up after 1 attempts/);
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('keeps its connections open from one batch to the next', async () => {
    const server = await rawServer((_req, res) => processedAnswer(res));
    try {
      const c = client({ apiUrl: server.url });
      const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
      for (const id of ids) expect(await c.send(encodeEvents([event(id)]))).toEqual([{ status: 'processed' }]);
      // One batch at a time: a connection per batch would be eight.
      expect(server.counts().requests).toBe(ids.length);
      expect(server.counts().connections).toBeLessThanOrEqual(2);
      await c.close();
    } finally {
      await server.stop();
    }
  });
});
