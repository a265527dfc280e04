// The client a run builds for its sync: which request budget it joins, at what ceiling.
import { afterEach, describe, expect, it } from 'vitest';
import { clientFor } from '../../src/cli/execute.js';
import { DEFAULT_API_URL } from '../../src/pinterest/client.js';
import { sharedBudget } from '../../src/pinterest/rate-budget.js';
import { BASE_SYNC, syncFrom } from '../helpers/sync.js';

const closing: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(closing.splice(0).map((c) => c.close()));
});

function syncWith(destination: string) {
  return syncFrom(`${BASE_SYNC}destination:\n  ad_account_id: "549757463328"\n  access_token: token\n${destination}`);
}

describe('clientFor', () => {
  it('keeps test requests to 10 a second, even when max_requests_per_minute allows live ones more', async () => {
    const sync = syncWith('  max_requests_per_minute: 6000\n');
    closing.push(clientFor(sync, { test: true }));
    const testBudget = sharedBudget(`${DEFAULT_API_URL}?test=true`, 'any ad account', 600);
    expect(testBudget.report().ceiling).toBe(10);
    closing.push(clientFor(sync));
    const live = sharedBudget(DEFAULT_API_URL, String(sync.destination.ad_account_id), 6000);
    expect(live.report().ceiling).toBe(100);
  });
});
