// The customer-list client's pure parts: what it masks, and which budgets its factory joins.
import { afterEach, describe, expect, it } from 'vitest';
import { ADS_READ_REQUESTS_PER_MINUTE, ADS_WRITE_REQUESTS_PER_MINUTE, customerListClientFor, maskedText, type CustomerListClient } from '../../src/pinterest/customer-lists.js';
import { DEFAULT_API_URL } from '../../src/pinterest/client.js';
import { durationText, parseRetryAfter } from '../../src/pinterest/http.js';
import { sharedBudget } from '../../src/pinterest/rate-budget.js';
import { BASE_SYNC, syncFrom } from '../helpers/sync.js';

const closing: CustomerListClient[] = [];
afterEach(async () => {
  await Promise.all(closing.splice(0).map((c) => c.close()));
});

describe('maskedText', () => {
  const hex = 'ab'.repeat(32);

  it('masks the token, the records sent, emails and digests, and keeps the rest', () => {
    const text = `record ${hex} and jane.doe@example.com, maid-1234 (token pina_secret_1) in list 5497558000001`;
    expect(maskedText(text, { token: 'pina_secret_1', records: ['maid-1234'] }))
      .toBe('record … and …, … (token ***) in list 5497558000001');
  });

  it('leaves a message without any of them as it is', () => {
    expect(maskedText('Too many records: at most 2 a request.', { token: 'pina_secret_1', records: [hex] })).toBe('Too many records: at most 2 a request.');
  });
});

describe('http helpers', () => {
  it('reads Retry-After in seconds or as an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(['1.5'])).toBe(1500);
    expect(parseRetryAfter(new Date(Date.now() + 60_000).toUTCString())).toBeGreaterThan(50_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('writes durations as the sync file does', () => {
    expect(durationText(600_000)).toBe('10m');
    expect(durationText(90_000)).toBe('90s');
    expect(durationText(7_200_000)).toBe('2h');
  });
});

describe('customerListClientFor', () => {
  const syncWith = (destination: string) =>
    syncFrom(`${BASE_SYNC}destination:\n  ad_account_id: "549757463399"\n  access_token: token\n${destination}`);

  it('joins the ad account\'s ads_write budget at max_requests_per_minute, apart from the Conversions API\'s', () => {
    closing.push(customerListClientFor(syncWith('  max_requests_per_minute: 120\n'), { userAgent: 'pinsync/test' }));
    const writes = sharedBudget(DEFAULT_API_URL, '549757463399 ads_write', 1);
    expect(writes.report().ceiling).toBe(2);
    expect(sharedBudget(DEFAULT_API_URL, '549757463399 ads_read', 1).report().ceiling).toBe(ADS_READ_REQUESTS_PER_MINUTE / 60);
    // The events' budget of the same ad account is not the one it joined.
    expect(sharedBudget(DEFAULT_API_URL, '549757463399', 6000).report().ceiling).toBe(100);
  });

  it('takes a conservative ads_write pace by default, at the API it is given', () => {
    closing.push(customerListClientFor(syncWith(''), { userAgent: 'pinsync/test', apiUrl: 'http://127.0.0.1:9/v5' }));
    expect(sharedBudget('http://127.0.0.1:9/v5', '549757463399 ads_write', 1).report().ceiling).toBe(ADS_WRITE_REQUESTS_PER_MINUTE / 60);
  });
});
