// The HTTP client library loads with the first batch, not at start-up: a broken install must
// still fail the batch at once, not be retried for minutes as if it were a network error.
import { describe, expect, it, vi } from 'vitest';
import { PinterestClient } from '../../src/pinterest/client.js';
import { encodeEvents } from '../../src/mapping/encode.js';

vi.mock('undici', () => {
  throw new Error('undici is missing from node_modules');
});

describe('PinterestClient without its HTTP library', () => {
  it('fails the batch with the load error, without retrying', async () => {
    const waits: number[] = [];
    const client = new PinterestClient({
      adAccountId: '549757463328', accessToken: 'token', apiUrl: 'http://127.0.0.1:9/v5', userAgent: 'pinsync/test',
      maxRetryMs: 60_000, random: () => 1, sleep: async (ms) => void waits.push(ms),
    });
    client.warmUp();
    const events = encodeEvents([{ event_name: 'checkout', action_source: 'web', event_time: 1, event_id: '1', user_data: {} }]);
    const error = await client.send(events).then(() => undefined, (e: Error) => e);
    // vitest wraps a failing mock factory's error; a real failed import throws it as is.
    const messages = [error?.message, (error?.cause as Error | undefined)?.message].join(' | ');
    expect(messages).toMatch(/undici is missing/);
    expect(waits).toEqual([]);
    await client.close();
  });
});
