// The customer-list client over HTTP against the fake Pinterest on 127.0.0.1, whose
// customer-list and audience endpoints check every request against the official description.
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CustomerListClient, type CustomerListClientOptions } from '../../src/pinterest/customer-lists.js';
import { AuthError, PinterestRefusedError, RetriesExhaustedError } from '../../src/core/errors.js';
import { RateBudget } from '../../src/pinterest/rate-budget.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';

let fake: FakePinterest;
const waits: number[] = [];
const clients: CustomerListClient[] = [];

const digest = (text: string) => createHash('sha256').update(text).digest('hex');
const records = (n: number, from = 0) => Array.from({ length: n }, (_, i) => digest(`person${from + i}@example.com`));

function client(overrides: Partial<CustomerListClientOptions> = {}): CustomerListClient {
  const made = new CustomerListClient({
    adAccountId: fake.adAccountId, accessToken: fake.oauthToken, apiUrl: fake.url, userAgent: 'pinsync/test',
    maxRetryMs: 60_000, random: () => 1, sleep: async (ms) => void waits.push(ms), ...overrides,
  });
  clients.push(made);
  return made;
}

/** A request pinsync's client would never send, straight to the fake. */
async function raw(method: string, path: string, body?: string, token = fake.oauthToken): Promise<{ status: number; body: { code?: number; message?: string } }> {
  const response = await fetch(`${fake.url}/ad_accounts/${fake.adAccountId}${path}`, {
    method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body !== undefined ? { body } : {}),
  });
  return { status: response.status, body: (await response.json()) as { code?: number; message?: string } };
}

beforeAll(async () => {
  fake = await new FakePinterest().start();
});
afterAll(() => fake.stop());
beforeEach(() => {
  fake.reset();
  waits.length = 0;
});
afterEach(async () => {
  // Every request the client sent was one the official description allows, and so was every answer.
  expect(fake.invalidRequests).toEqual([]);
  expect(fake.invalidAnswers).toEqual([]);
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe('customer lists', () => {
  it('creates a list, adds and removes members idempotently, and reads Pinterest\'s counts back', async () => {
    const lists = client();
    const [a, b, c, d, gone] = records(5);
    const created = await lists.createList({ name: 'VIP customers', listType: 'EMAIL', records: [a!, b!, c!] });
    expect(created).toMatchObject({ name: 'VIP customers', status: 'TOO_SMALL', numUploadedUserRecords: 3, numBatches: 1 });
    expect(fake.membersOf(created.id)).toEqual(new Set([a, b, c]));
    expect(fake.lists()[0]!.listType).toBe('EMAIL');

    const added = await lists.updateList(created.id, 'ADD', [d!, a!]);
    expect(fake.membersOf(created.id)).toEqual(new Set([a, b, c, d]));
    // Pinterest counts every record sent, already there or not.
    expect(added).toMatchObject({ numUploadedUserRecords: 5, numBatches: 2 });

    const removed = await lists.updateList(created.id, 'REMOVE', [a!, gone!]);
    expect(fake.membersOf(created.id)).toEqual(new Set([b, c, d]));
    expect(removed).toMatchObject({ numRemovedUserRecords: 2, numBatches: 3 });
    await lists.updateList(created.id, 'REMOVE', [a!]);
    expect(fake.membersOf(created.id)).toEqual(new Set([b, c, d]));

    const read = await lists.getList(created.id);
    expect(read).toMatchObject({ id: created.id, name: 'VIP customers', status: 'TOO_SMALL', numUploadedUserRecords: 5, numRemovedUserRecords: 3, numBatches: 4 });
    expect(read!.createdTime).toBeTypeOf('number');
    expect(fake.requestsTo('customer_lists/update').map((r) => r.body)).toEqual([
      { operation_type: 'ADD', records: `${d},${a}` }, { operation_type: 'REMOVE', records: `${a},${gone}` }, { operation_type: 'REMOVE', records: a },
    ]);
    expect(fake.requestsTo('customer_lists/create')[0]!.body).toEqual({ name: 'VIP customers', records: `${a},${b},${c}`, list_type: 'EMAIL' });
    expect(lists.report()).toEqual({ requests: 5, throttled: 0 });
  });

  it('reports READY from 100 members, and whatever status Pinterest gives', async () => {
    const lists = client();
    const list = await lists.createList({ name: 'big', listType: 'MAID', records: records(100) });
    expect(list.status).toBe('READY');
    fake.listStatus = () => 'PROCESSING';
    expect((await lists.getList(list.id))!.status).toBe('PROCESSING');
    // A status the description does not list yet is kept as text.
    fake.listScript.push({ status: 200, body: { id: list.id, name: 'big', status: 'ARCHIVED_SOMEDAY' } });
    expect(await lists.getList(list.id)).toEqual({ id: list.id, name: 'big', status: 'ARCHIVED_SOMEDAY' });
  });

  it('answers undefined for a list the ad account does not have, on a 404 or a refusal that says not found', async () => {
    const lists = client();
    expect(await lists.getList('123456')).toBeUndefined();
    expect(fake.requestsTo('customer_lists/get')[0]!.status).toBe(404);
    fake.listScript.push({ status: 400, body: { code: 2601, message: 'Customer list not found.' } });
    expect(await lists.getList('123456')).toBeUndefined();
    // Any other refusal is one.
    fake.listScript.push({ status: 400, body: { code: 1, message: 'Invalid parameters.' } });
    await expect(lists.getList('123456')).rejects.toThrow(PinterestRefusedError);
  });

  it('finds lists by exact name across pages', async () => {
    fake.maxPageSize = 2;
    for (const name of ['VIP', 'other', 'VIP ', 'vip', 'VIP']) fake.addList(name);
    const found = await client().findLists('VIP');
    expect(found.map((l) => l.id)).toEqual(fake.lists().filter((l) => l.name === 'VIP').map((l) => l.id));
    expect(found).toHaveLength(2);
    const pages = fake.requestsTo('customer_lists/list');
    expect(pages).toHaveLength(3);
    expect(pages.map((p) => p.query.page_size)).toEqual(['250', '250', '250']);
    expect(pages[0]!.query.bookmark).toBeUndefined();
    expect(pages[1]!.query.bookmark).toBeTruthy();
    expect(await client().findLists('nobody')).toEqual([]);
  });

  it('stops paging when Pinterest gives the same bookmark twice', async () => {
    fake.listAlways = { endpoint: 'customer_lists/list', status: 200, body: { items: [], bookmark: 'again' } };
    await expect(client().findLists('VIP')).rejects.toThrow(/same page bookmark twice/);
  });

  it('creates the CUSTOMER_LIST audience of a list, and finds it among the others across pages', async () => {
    fake.maxPageSize = 1;
    const lists = client();
    const list = await lists.createList({ name: 'VIP', listType: 'EMAIL', records: records(3) });
    const other = fake.addList('other');
    fake.addAudience('site visitors', { audienceType: 'VISITOR' });
    fake.addAudience('other list', { customerListId: other.id });
    expect(await lists.findAudiences(list.id)).toEqual([]);
    const audience = await lists.createAudience({ name: 'VIP audience', listId: list.id });
    expect(audience).toMatchObject({ name: 'VIP audience', customerListId: list.id, status: 'TOO_SMALL' });
    expect(fake.requestsTo('audiences/create')[0]!.body).toEqual({
      ad_account_id: fake.adAccountId, name: 'VIP audience', rule: { customer_list_id: list.id }, audience_type: 'CUSTOMER_LIST',
    });
    const found = await lists.findAudiences(list.id);
    expect(found).toEqual([audience]);
    expect(fake.audiences()).toHaveLength(3);
    expect(fake.requestsTo('audiences/list').length).toBeGreaterThanOrEqual(3);
  });
});

describe('customer lists: retries', () => {
  it('waits as long as Retry-After says, in seconds or as a date, and counts the 429s', async () => {
    fake.listScript.push(
      { status: 429, retryAfter: '3', body: { code: 8, message: 'This request exceeded a rate limit.' } },
      { status: 429, retryAfter: new Date(Date.now() + 5_000).toUTCString() },
    );
    const lists = client();
    const list = await lists.createList({ name: 'VIP', listType: 'EMAIL', records: records(2) });
    expect(waits[0]).toBe(3000);
    expect(waits[1]).toBeGreaterThan(3000);
    expect(waits[1]).toBeLessThanOrEqual(5000);
    expect(lists.report()).toEqual({ requests: 3, throttled: 2 });
    // Refused requests changed nothing: one list, made once.
    expect(fake.lists().map((l) => l.id)).toEqual([list.id]);
  });

  it('fails at once when Retry-After asks for longer than max_retry_time has left', async () => {
    fake.listScript.push({ status: 429, retryAfter: '120' });
    const error = await client().updateList(fake.addList('VIP').id, 'ADD', records(1)).catch((e: Error) => e);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as Error).message).toMatch(/asked to wait 120s \(Retry-After, after 429: scripted 429\) before pinsync could add 1 record to customer list \d+, longer than destination\.max_retry_time \(1m\) allows/);
    expect(waits).toEqual([]);
  });

  it('retries 5xx and 408 with exponential backoff', async () => {
    fake.listScript.push({ status: 500 }, { status: 503 }, { status: 408 });
    const list = fake.addList('VIP');
    await client().updateList(list.id, 'ADD', records(2));
    // Full jitter with random() = 1: the ceiling, doubling from 500 ms.
    expect(waits).toEqual([500, 1000, 2000]);
    expect(fake.membersOf(list.id).size).toBe(2);
  });

  it('retries an answer it cannot read, then names it when the time runs out', async () => {
    const list = fake.addList('VIP');
    fake.listScript.push({ endpoint: 'customer_lists/get', status: 200, raw: '{"id": "1", "na' });
    expect((await client().getList(list.id))!.id).toBe(list.id);
    expect(waits).toHaveLength(1);

    fake.listAlways = { endpoint: 'customer_lists/get', status: 200, body: { id: 42, name: 'VIP' } };
    const unreadable = await client({ maxRetryMs: 3_000 }).getList(list.id).catch((e: Error) => e);
    expect(unreadable).toBeInstanceOf(RetriesExhaustedError);
    expect((unreadable as Error).message).toMatch(/read customer list \d+ \(last: 200 with an answer pinsync cannot read \(id: .*expected string.*\)\); gave up after \d+ attempts/);

    fake.listAlways = { endpoint: 'customer_lists/get', status: 200, raw: '<html>Bad gateway</html>' };
    const html = await client({ maxRetryMs: 3_000 }).getList(list.id).catch((e: Error) => e);
    expect((html as Error).message).toMatch(/last: 200 with a non-JSON answer \(Bad gateway\)/);
  });

  it('gives up when the next wait would pass max_retry_time', async () => {
    fake.listAlways = { status: 503 };
    const lists = client({ maxRetryMs: 3_000 });
    const error = await lists.findLists('VIP').catch((e: Error) => e);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as Error).message).toMatch(/list the customer lists \(page 1\) \(last: 503: scripted 503\); gave up after 4 attempts, within destination\.max_retry_time \(3s\)/);
    // The sleeps are recorded, not slept: 500 + 1000 + 2000 ms fit in 3 s, 4000 more would not.
    expect(waits).toEqual([500, 1000, 2000]);
  });

  it('retries an answer slower than destination.timeout', async () => {
    const list = fake.addList('VIP');
    fake.listScript.push({ endpoint: 'customer_lists/get', status: 0, delayMs: 1_000 });
    expect((await client({ timeoutMs: 200 }).getList(list.id))!.id).toBe(list.id);
    expect(fake.requestsTo('customer_lists/get')).toHaveLength(2);
    fake.listAlways = { endpoint: 'customer_lists/get', status: 200, dripMs: 50 };
    const error = await client({ timeoutMs: 200, maxRetryMs: 1_000 }).getList(list.id).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/no answer within 0\.2s \(destination\.timeout\)/);
  });

  it('stops waiting to retry when its signal says the run failed elsewhere', async () => {
    fake.listAlways = { status: 503 };
    const run = new AbortController();
    const sleep = async (_ms: number, signal?: AbortSignal) => {
      run.abort();
      if (signal?.aborted) throw new Error('aborted');
    };
    const error = await client({ sleep }).findAudiences('1', run.signal).catch((e: Error) => e);
    expect((error as Error).message).toBe('stopped retrying to list the audiences (page 1) (last: 503: scripted 503): the run failed elsewhere');
    expect(fake.listLog).toHaveLength(1);
  });

  it('resends an update whose answer was lost, and the list ends the same (ADD and REMOVE are idempotent)', async () => {
    const list = fake.addList('VIP');
    const sent = records(3);
    fake.listScript.push({ endpoint: 'customer_lists/update', status: 500, afterApplying: true });
    await client().updateList(list.id, 'ADD', sent);
    expect(fake.membersOf(list.id)).toEqual(new Set(sent));
    expect(fake.lists()[0]!.uploaded).toBe(6);
  });

  it('takes its turn for writes in the ads_write budget, and for reads in the ads_read one', async () => {
    const writes = new RateBudget(600);
    const reads = new RateBudget(600);
    fake.listScript.push({ endpoint: 'customer_lists/create', status: 429, retryAfter: '1' });
    const lists = client({ budget: writes, readBudget: reads });
    await lists.createList({ name: 'VIP', listType: 'EMAIL', records: records(1) });
    await lists.findLists('VIP');
    expect(writes.report().throttled).toBe(1);
    expect(reads.report().throttled).toBe(0);
  });
});

describe('customer lists: refusals', () => {
  it('says an OAuth token with ads:write is needed when Pinterest answers 401 or 403, never showing the token', async () => {
    const conversion = await client({ accessToken: fake.token }).findLists('VIP').catch((e: Error) => e);
    expect(conversion).toBeInstanceOf(AuthError);
    expect((conversion as Error).message).toMatch(/\(401: Authentication failed\.\)\. Customer lists need an OAuth access token with the ads:write scope for ad account 549757463328 \(a conversion access token is refused\)/);
    expect((conversion as Error).message).not.toContain(fake.token);

    fake.conversionTokenAnswer = 403;
    const forbidden = await client({ accessToken: fake.token }).getList('1').catch((e: Error) => e);
    expect(forbidden).toBeInstanceOf(AuthError);
    expect((forbidden as Error).message).toMatch(/403: Authorization failed\..*ads:write scope.*conversion access token is refused/);

    fake.readOnlyTokens.add('pina_read_only_token');
    const readOnly = client({ accessToken: 'pina_read_only_token' });
    expect(await readOnly.findLists('VIP')).toEqual([]);
    const write = await readOnly.createList({ name: 'VIP', listType: 'EMAIL', records: records(1) }).catch((e: Error) => e);
    expect(write).toBeInstanceOf(AuthError);
    expect((write as Error).message).not.toContain('pina_read_only_token');

    const otherAccount = await client({ adAccountId: '42' }).getList('1').catch((e: Error) => e);
    expect((otherAccount as Error).message).toMatch(/customer lists of ad account 42 \(403: You are not permitted/);
    // Not retried.
    expect(waits).toEqual([]);
    expect(fake.listLog.map((r) => r.status)).toEqual([401, 403, 200, 403, 403]);
  });

  it('names Pinterest\'s code and message for another refusal, and never the records', async () => {
    const list = fake.addList('VIP');
    fake.maxRecordsPerRequest = 2;
    const sent = records(3);
    const tooMany = await client().updateList(list.id, 'ADD', sent).catch((e: Error) => e);
    expect(tooMany).toBeInstanceOf(PinterestRefusedError);
    expect((tooMany as Error).message).toBe(`Pinterest refused to add 3 records to customer list ${list.id} (400, code 1: Too many records: at most 2 a request.)`);

    // A message that repeats what was sent: masked.
    fake.listScript.push({ status: 400, body: { code: 3, message: `Invalid record ${sent[0]} near jane@example.com, short-record; token ${fake.oauthToken}` } });
    const echoed = await client().updateList(list.id, 'REMOVE', [...sent.slice(0, 2), 'short-record']).catch((e: Error) => e);
    const message = (echoed as Error).message;
    expect(message).toMatch(/^Pinterest refused to remove 3 records from customer list \d+ \(400, code 3: Invalid record … near …, …; token \*\*\*\)$/);
    for (const r of sent) expect(message).not.toContain(r);
    expect(message).not.toContain(fake.oauthToken);
  });

  it('refuses an update of a list the ad account does not have with 404', async () => {
    const error = await client().updateList('123', 'ADD', records(1)).catch((e: Error) => e);
    expect(error).toBeInstanceOf(PinterestRefusedError);
    expect((error as Error).message).toMatch(/\(404, code 2601: Customer list not found\.\)/);
  });

  it('refuses to send a record holding a comma', async () => {
    await expect(client().updateList('123', 'ADD', ['a,b'])).rejects.toThrow(/holds a comma/);
    expect(fake.listLog).toEqual([]);
  });
});

describe('the fake Pinterest checks requests against the official description', () => {
  it('refuses with 400, and records, a request the description does not allow', async () => {
    const list = fake.addList('VIP');
    expect((await raw('POST', '/customer_lists', JSON.stringify({ name: 'VIP' }))).status).toBe(400);
    expect((await raw('POST', '/customer_lists', JSON.stringify({ name: 'VIP', records: 'a', list_type: 'PHONE' }))).status).toBe(400);
    expect((await raw('PATCH', `/customer_lists/${list.id}`, JSON.stringify({ operation: 'ADD', records: 'a' }))).status).toBe(400);
    expect((await raw('PATCH', `/customer_lists/${list.id}`, JSON.stringify({ operation_type: 'DELETE', records: 'a' }))).status).toBe(400);
    expect((await raw('PATCH', `/customer_lists/${list.id}`, '{"operation_type": "ADD", ')).status).toBe(400);
    expect((await raw('PATCH', '/customer_lists/not-digits', JSON.stringify({ operation_type: 'ADD', records: 'a' }))).status).toBe(400);
    expect((await raw('GET', '/customer_lists?page_size=500')).status).toBe(400);
    expect((await raw('GET', '/audiences?ownership_type=MINE')).status).toBe(400);
    expect((await raw('POST', '/audiences', JSON.stringify({ name: 'VIP', rule: { customer_list_id: list.id } }))).status).toBe(400);
    expect((await raw('POST', '/audiences', JSON.stringify({ name: 'VIP', rule: { customer_list_id: 'x1' }, audience_type: 'CUSTOMER_LIST' }))).status).toBe(400);
    expect(fake.invalidRequests.map((r) => `${r.endpoint} ${r.where}`)).toEqual([
      'customer_lists/create body', 'customer_lists/create body', 'customer_lists/update body', 'customer_lists/update body',
      'customer_lists/update body', 'customer_lists/update path', 'customer_lists/list query', 'audiences/list query',
      'audiences/create body', 'audiences/create body',
    ]);
    expect(fake.invalidRequests[0]!.errors).toMatch(/must have required property 'records'/);
    expect(fake.membersOf(list.id).size).toBe(0);
    // Checked: this test's requests were meant to be refused.
    fake.invalidRequests.length = 0;
  });

  it('takes a valid request sent by hand', async () => {
    const list = fake.addList('VIP');
    expect(await raw('PATCH', `/customer_lists/${list.id}`, JSON.stringify({ operation_type: 'ADD', records: 'a,b,' }))).toMatchObject({ status: 200 });
    expect(fake.membersOf(list.id)).toEqual(new Set(['a', 'b']));
  });
});
