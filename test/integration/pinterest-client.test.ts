// The Conversions API client against the fake server on 127.0.0.1, with a recorded clock.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PinterestClient } from '../../src/pinterest/client.js';
import { AuthError, RetriesExhaustedError } from '../../src/errors.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';
import { encodeEvents } from '../../src/mapping/encode.js';

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

  it('reads per-event results from a 422', async () => {
    fake.failuresAs422 = true;
    fake.failEvents.set('a', 'Too old.');
    expect(await client().send(encodeEvents([event('a'), event('b')]))).toEqual([{ status: 'failed', error: 'Too old.' }, { status: 'processed' }]);
  });
});
