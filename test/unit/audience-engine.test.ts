// The audience engine against the real SQLite state, an in-memory source and an in-memory
// Pinterest: plans, the removal guard, crashes at every request, and the list's identity.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseSync } from '../../src/config/load.js';
import type { SyncDefinition } from '../../src/config/schema.js';
import { RemovalGuardError, UsageError } from '../../src/core/errors.js';
import { applyAudience, planAudience } from '../../src/engine/audience.js';
import { compileMembers } from '../../src/mapping/members.js';
import type { Audience, CustomerList, CustomerListApi, ListOperation } from '../../src/pinterest/customer-lists.js';
import { StateStore } from '../../src/state/store.js';
import { memorySource, sha, type Person } from '../helpers/audience-engine.js';


/** Pinterest as far as an audience run sees it; `failAfter` requests, it throws (a crash mid-run). */
class MemoryPinterest implements CustomerListApi {
  lists: (CustomerList & { members: Set<string>; type: string })[] = [];
  audiences: Audience[] = [];
  requests: { operation: ListOperation | 'CREATE'; records: number }[] = [];
  failAfter = Infinity;
  private next = 100;
  private count(operation: ListOperation | 'CREATE', records: number) {
    if (this.requests.length >= this.failAfter) throw new Error('crash');
    this.requests.push({ operation, records });
  }
  async getList(id: string) { return this.lists.find((l) => l.id === id); }
  async findLists(name: string) { return this.lists.filter((l) => l.name === name); }
  async createList(input: { name: string; listType: string; records: readonly string[] }) {
    this.count('CREATE', input.records.length);
    const list = { id: String(this.next++), name: input.name, type: input.listType, status: 'PROCESSING', members: new Set(input.records) };
    this.lists.push(list);
    return list;
  }
  async updateList(id: string, operation: ListOperation, records: readonly string[]) {
    this.count(operation, records.length);
    const list = this.lists.find((l) => l.id === id)!;
    for (const r of records) if (operation === 'ADD') list.members.add(r); else list.members.delete(r);
    return list;
  }
  async findAudiences(listId: string) { return this.audiences.filter((a) => a.customerListId === listId); }
  async createAudience(input: { name: string; listId: string }) {
    const audience = { id: String(this.next++), name: input.name, customerListId: input.listId };
    this.audiences.push(audience);
    return audience;
  }
  report() { return { requests: this.requests.length, throttled: 0 }; }
  async close() {}
}



function syncFile(extra = '', list = '{ name: VIP }'): SyncDefinition {
  const text = `kind: audience
source: { type: postgres, table: people, primary_key: id }
destination:
  ad_account_id: "1234"
  access_token: token
  customer_list: ${list}
  records_per_request: 3
match: { em: email }
${extra}`;
  const loaded = parseSync(text, 'vip.yaml', { env: {} });
  expect(loaded.problems).toEqual([]);
  return loaded.sync!;
}

const people = (n: number, from = 0): Person[] => Array.from({ length: n }, (_, i) => ({ id: from + i, email: `Person${from + i}@Example.com ` }));
const digestsOf = (list: Person[]) => new Set(list.map((p) => sha(p.email!.trim().toLowerCase())));

let dir: string;
let store: StateStore;
let pinterest: MemoryPinterest;
beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'pinsync-audience-'));
  store = await StateStore.open(path.join(dir, 'state.db'));
  pinterest = new MemoryPinterest();
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One run: plan from `rows`, then apply; returns what it did (or throws what it threw). */
async function run(sync: SyncDefinition, rows: Person[], options: { allowRemovals?: boolean } = {}) {
  const { reader } = compileMembers(sync, ['id', 'email']);
  const plan = await planAudience(sync, memorySource(() => rows), reader!, store);
  const runId = await store.startRun(sync.name);
  return applyAudience({ sync, plan, listType: reader!.listType, client: pinterest, store, runId, ...options });
}

describe('audience runs', () => {
  it('create the list with its first records, then add the rest, each identifier hashed as for events', async () => {
    const sync = syncFile();
    const rows = people(7);
    const applied = await run(sync, rows);
    expect(pinterest.lists).toHaveLength(1);
    expect(pinterest.lists[0]!.members).toEqual(digestsOf(rows));
    expect(pinterest.requests.map((r) => `${r.operation} ${r.records}`)).toEqual(['CREATE 3', 'ADD 3', 'ADD 1']);
    expect(applied.report).toMatchObject({ created: true, added: 7, removed: 0, kept: 0, size: 7, listType: 'EMAIL' });
    expect(await store.audienceList(sync.name)).toMatchObject({ listId: pinterest.lists[0]!.id, listName: 'VIP', listType: 'EMAIL', adAccountId: '1234' });
  });

  it('send nothing for unchanged members, and only the changes otherwise', async () => {
    const sync = syncFile();
    await run(sync, people(6));
    pinterest.requests = [];
    const again = await run(sync, people(6));
    expect(pinterest.requests).toEqual([]);
    expect(again.report).toMatchObject({ added: 0, removed: 0, kept: 6 });
    const next = [...people(5), ...people(1, 50)];
    const changed = await run(sync, next);
    expect(pinterest.requests.map((r) => `${r.operation} ${r.records}`)).toEqual(['ADD 1', 'REMOVE 1']);
    expect(pinterest.lists[0]!.members).toEqual(digestsOf(next));
    expect(changed.report).toMatchObject({ added: 1, removed: 1, kept: 5, size: 6 });
  });

  it('reject rows without a usable email by primary key, never showing the value', async () => {
    const sync = syncFile();
    const rows = [...people(3), { id: 90, email: 'not an email' }, { id: 91, email: null }];
    const { reader } = compileMembers(sync, ['id', 'email']);
    const plan = await planAudience(sync, memorySource(() => rows), reader!, store);
    expect(plan.rejects).toEqual([
      { primaryKey: '90', eventId: null, stage: 'local', reason: 'em: not an email address' },
      { primaryKey: '91', eventId: null, stage: 'local', reason: 'em: missing (null or blank in the source)' },
    ]);
    expect(plan.members).toBe(3);
  });

  it('refuse to remove more than max_removal_rate, or everything, unless allowed', async () => {
    const sync = syncFile('options: { max_removal_rate: 0.25 }');
    await run(sync, people(8));
    const before = pinterest.requests.length;
    await expect(run(sync, people(5))).rejects.toThrow(RemovalGuardError);
    await expect(run(sync, people(5))).rejects.toThrow(/remove 3 of the list's 8 members \(38 %\), more than options.max_removal_rate \(25 %\)/);
    await expect(run(sync, [])).rejects.toThrow(/the query returned no members, so this run would remove all 8/);
    expect(pinterest.requests.length).toBe(before);
    await run(sync, people(6)); // 2 of 8: within the rate
    expect(pinterest.lists[0]!.members).toEqual(digestsOf(people(6)));
    await run(sync, [], { allowRemovals: true });
    expect(pinterest.lists[0]!.members.size).toBe(0);
    expect((await store.memberCounts(sync.name)).member).toBe(0);
  });

  it('end equal to the query after a crash at any request, resending at most the request in flight', async () => {
    const sync = syncFile('options: { max_removal_rate: 1 }');
    const first = people(10);
    const second = [...people(4), ...people(5, 100)];
    // 2 ADD requests (5 records) and 2 REMOVE requests (6): a crash at each.
    for (let crashAt = 0; crashAt < 4; crashAt++) {
      await store.clearMembers(sync.name);
      await store.clearAudienceList(sync.name);
      pinterest = new MemoryPinterest();
      await run(sync, first);
      pinterest.requests = [];
      pinterest.failAfter = crashAt;
      await expect(run(sync, second)).rejects.toThrow('crash');
      pinterest.failAfter = Infinity;
      const sentBefore = pinterest.requests.reduce((n, r) => n + r.records, 0);
      const resumed = await run(sync, second);
      const sentAfter = pinterest.requests.reduce((n, r) => n + r.records, 0) - sentBefore;
      expect(pinterest.lists[0]!.members, `crash at request ${crashAt}`).toEqual(digestsOf(second));
      // 5 to add and 6 to remove in all; what is sent again is at most the 3 records of the request that crashed.
      expect(sentBefore + sentAfter).toBeLessThanOrEqual(11 + 3);
      expect(resumed.report.size).toBe(9);
      expect(await store.memberCounts(sync.name)).toEqual({ member: 9, adding: 0, removing: 0, leaving: 0 });
    }
  });

  it('removes a member whose ADD was in flight at a crash and who then left the query', async () => {
    const sync = syncFile('options: { max_removal_rate: 1 }');
    await run(sync, people(3));
    pinterest.failAfter = pinterest.requests.length; // the ADD of person 50 is marked, then the request fails
    await expect(run(sync, [...people(3), ...people(1, 50)])).rejects.toThrow('crash');
    pinterest.failAfter = Infinity;
    // Pinterest may have taken it: the state says 'adding', and the next run removes it.
    pinterest.lists[0]!.members.add(sha('person50@example.com'));
    await run(sync, people(3));
    expect(pinterest.lists[0]!.members).toEqual(digestsOf(people(3)));
  });

  it('finds its list by name after a crash between creating it and recording it', async () => {
    const sync = syncFile();
    await pinterest.createList({ name: 'VIP', listType: 'EMAIL', records: [sha('person0@example.com')] });
    pinterest.requests = [];
    const applied = await run(sync, people(2));
    expect(pinterest.lists).toHaveLength(1);
    expect(applied.report).toMatchObject({ adopted: true, created: false, added: 2 });
  });

  it('asks for an id when several lists have its name', async () => {
    const sync = syncFile();
    await pinterest.createList({ name: 'VIP', listType: 'EMAIL', records: ['a'] });
    await pinterest.createList({ name: 'VIP', listType: 'EMAIL', records: ['b'] });
    await expect(run(sync, people(2))).rejects.toThrow(/has 2 customer lists named 'VIP' \(ids 100, 101\): give the one to keep as destination.customer_list: \{ id: "…" \}/);
  });

  it('refuses a sync file that now names another list, pointing at reset', async () => {
    await run(syncFile(), people(2));
    await expect(run(syncFile('', '{ name: Other }'), people(2))).rejects.toThrow(UsageError);
    await expect(run(syncFile('', '{ id: "555" }'), people(2))).rejects.toThrow(/pinsync reset vip/);
  });

  it('creates nothing while the query has no members', async () => {
    const applied = await run(syncFile(), []);
    expect(pinterest.requests).toEqual([]);
    expect(applied.report).toMatchObject({ listId: null, added: 0 });
  });

  it('creates the targetable audience once, on the list', async () => {
    const sync = syncFile('', '{ name: VIP }\n  audience: { name: VIP audience }');
    await run(sync, people(2));
    await run(sync, people(3));
    expect(pinterest.audiences).toEqual([{ id: expect.any(String), name: 'VIP audience', customerListId: pinterest.lists[0]!.id }]);
    expect((await store.audienceList(sync.name))?.audienceId).toBe(pinterest.audiences[0]!.id);
  });
});
