// A second adversarial review of audience runs (issue 24), after the first review's fixes: the
// engine against the real SQLite state, an in-memory source, and the real customer-list client
// talking to the fake Pinterest on 127.0.0.1 (no PostgreSQL, no build).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseSync } from '../../src/config/load.js';
import type { SyncDefinition } from '../../src/config/schema.js';
import { applyAudience, planAudience } from '../../src/engine/audience.js';
import { compileMembers } from '../../src/mapping/members.js';
import { CustomerListClient } from '../../src/pinterest/customer-lists.js';
import { StateStore } from '../../src/state/store.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';
import { memorySource, sha, type Person } from '../helpers/audience-engine.js';




let fake: FakePinterest;
let dir: string;
let store: StateStore;
let client: CustomerListClient;

function syncFile(name: string, extra = ''): SyncDefinition {
  const text = `name: ${name}
kind: audience
source: { type: postgres, table: people, primary_key: id }
destination:
  ad_account_id: "${fake.adAccountId}"
  access_token: token
  customer_list: { name: VIP }
  records_per_request: 3
match: { em: email }
${extra}`;
  const loaded = parseSync(text, `${name}.yaml`, { env: {} });
  expect(loaded.problems).toEqual([]);
  return loaded.sync!;
}

const people = (n: number, from = 0): Person[] => Array.from({ length: n }, (_, i) => ({ id: from + i, email: `person${from + i}@example.com` }));
const digestsOf = (list: Person[]) => new Set(list.map((p) => sha(p.email!)));

async function run(sync: SyncDefinition, rows: Person[], options: { allowRemovals?: boolean; signal?: AbortSignal } = {}) {
  const { reader } = compileMembers(sync, ['id', 'email']);
  const plan = await planAudience(sync, memorySource(rows), reader!, store);
  const runId = await store.startRun(sync.name);
  return applyAudience({ sync, plan, listType: reader!.listType, client, store, runId, ...options });
}

beforeAll(async () => {
  fake = await new FakePinterest().start();
});
afterAll(() => fake.stop());
beforeEach(async () => {
  fake.reset();
  dir = mkdtempSync(path.join(tmpdir(), 'pinsync-audience-review2-'));
  store = await StateStore.open(path.join(dir, 'state.db'));
  client = new CustomerListClient({
    adAccountId: fake.adAccountId, accessToken: fake.oauthToken, apiUrl: fake.url, userAgent: 'pinsync/test',
    maxRetryMs: 60_000, random: () => 0, sleep: async () => undefined,
  });
});
afterEach(async () => {
  expect(fake.invalidRequests).toEqual([]);
  await client.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a lost or failed create, through the real client', () => {
  it('makes one list when the create answer is lost after a 429 (the list was made)', async () => {
    const sync = syncFile('vip');
    fake.listScript.push(
      { endpoint: 'customer_lists/create', status: 429, retryAfter: '1' },
      { endpoint: 'customer_lists/create', status: 503, afterApplying: true },
    );
    const applied = await run(sync, people(5));
    expect(fake.lists()).toHaveLength(1);
    expect(fake.membersOf(fake.lists()[0]!.id)).toEqual(digestsOf(people(5)));
    expect(applied.report.created).toBe(true);
    expect(await store.memberCounts('vip')).toEqual({ member: 5, adding: 0, removing: 0, leaving: 0 });
  });

  it('creates the list when a 503 said nothing was made (Pinterest did not make it): a transient 5xx does not fail the run', async () => {
    const sync = syncFile('vip');
    // Answered 503 without creating: findLists then shows none, so creating again is safe.
    fake.listScript.push({ endpoint: 'customer_lists/create', status: 503 });
    const applied = await run(sync, people(5));
    expect(fake.lists()).toHaveLength(1);
    expect(fake.membersOf(fake.lists()[0]!.id)).toEqual(digestsOf(people(5)));
    expect(applied.report.created).toBe(true);
  });

  it('makes the audience when a 503 said nothing was made: a transient 5xx does not fail the run', async () => {
    const withAudience = parseSync(`name: vip
kind: audience
source: { type: postgres, table: people, primary_key: id }
destination:
  ad_account_id: "${fake.adAccountId}"
  access_token: token
  customer_list: { name: VIP }
  audience: { name: VIP audience }
  records_per_request: 3
match: { em: email }
`, 'vip.yaml', { env: {} }).sync!;
    fake.listScript.push({ endpoint: 'audiences/create', status: 503 });
    const applied = await run(withAudience, people(5));
    expect(fake.audiences()).toHaveLength(1);
    expect(applied.report.audienceId).toBe(fake.audiences()[0]!.id);
    expect(fake.membersOf(fake.lists()[0]!.id)).toEqual(digestsOf(people(5)));
  });
});

describe('marks left by a create that never happened', () => {
  it('an empty query with --allow-removals clears the marks of a create killed before Pinterest made the list', async () => {
    const sync = syncFile('vip');
    // kill -9 between markMembers('adding') and the create: marks, no list record, no list on Pinterest.
    await store.markMembers('vip', 'adding', [...digestsOf(people(3))]);
    await run(sync, [], { allowRemovals: true });
    // There is no list, so nothing is on one: pinsync's record should say so.
    expect(await store.memberCounts('vip')).toEqual({ member: 0, adding: 0, removing: 0, leaving: 0 });
    // And the next run, without the flag, is not refused for removing members of a list that does not exist.
    await expect(run(sync, [])).resolves.toBeDefined();
  });

  it('a create killed before Pinterest made the list, then an empty query: refused without the flag (the list does not exist)', async () => {
    const sync = syncFile('vip');
    await store.markMembers('vip', 'adding', [...digestsOf(people(3))]);
    await expect(run(sync, [])).resolves.toBeDefined();
  });
});

describe('a stop before the first request', () => {
  it('sends no create when the run was stopped (SIGTERM) before applying', async () => {
    const sync = syncFile('vip');
    const stop = new AbortController();
    stop.abort('signal');
    const applied = await run(sync, people(5), { signal: stop.signal });
    expect(applied.interrupted).toBe(true);
    expect(fake.requestsTo('customer_lists/create')).toEqual([]);
  });
});

describe('removals decided past the guard (leaving)', () => {
  it('a run killed after marking leaving is finished by the next run without the flag; a leaving member back in the query stays', async () => {
    const sync = syncFile('vip');
    await run(sync, people(10));
    const list = fake.lists()[0]!;
    // --allow-removals: 8 of 10 go; the first REMOVE is lost (a network cut after marking leaving).
    fake.listScript.push({ endpoint: 'customer_lists/update', status: 400 });
    await expect(run(sync, people(2), { allowRemovals: true })).rejects.toThrow();
    expect((await store.memberCounts('vip')).leaving).toBeGreaterThan(0);
    // Without the flag, the same query: the approved removals go on; one of them is back in the query.
    await run(sync, [...people(2), ...people(1, 9)]);
    expect(fake.membersOf(list.id)).toEqual(digestsOf([...people(2), ...people(1, 9)]));
    expect(await store.memberCounts('vip')).toEqual({ member: 3, adding: 0, removing: 0, leaving: 0 });
  });
});

