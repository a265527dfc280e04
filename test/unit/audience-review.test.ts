// An adversarial review of audience runs (issue 24): the engine against the real SQLite state,
// an in-memory source and an in-memory Pinterest, at the edges the first tests leave out.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import knexFactory from 'knex';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseSync } from '../../src/config/load.js';
import type { SyncDefinition } from '../../src/config/schema.js';
import { PinterestRefusedError } from '../../src/core/errors.js';
import { applyAudience, planAudience } from '../../src/engine/audience.js';
import { compileMembers } from '../../src/mapping/members.js';
import type { Audience, CustomerList, CustomerListApi, ListOperation } from '../../src/pinterest/customer-lists.js';
import { StateStore, ZERO_COUNTS } from '../../src/state/store.js';
import { formatRunSummary } from '../../src/cli/output.js';
import { memorySource, sha, type Person } from '../helpers/audience-engine.js';


/** Pinterest as an audience run sees it; `refuseCreate` answers a create with a refusal (a quota, a bad name). */
class MemoryPinterest implements CustomerListApi {
  lists: (CustomerList & { members: Set<string> })[] = [];
  requests: { operation: ListOperation | 'CREATE'; records: number }[] = [];
  refuseCreate = false;
  private next = 100;
  async getList(id: string) { return this.lists.find((l) => l.id === id); }
  async findLists(name: string) { return this.lists.filter((l) => l.name === name); }
  async createList(input: { name: string; listType: string; records: readonly string[] }) {
    if (this.refuseCreate) throw new PinterestRefusedError('Pinterest refused to create the customer list (400, code 1: scripted)');
    this.requests.push({ operation: 'CREATE', records: input.records.length });
    const list = { id: String(this.next++), name: input.name, status: 'PROCESSING', members: new Set(input.records) };
    this.lists.push(list);
    return list;
  }
  async updateList(id: string, operation: ListOperation, records: readonly string[]) {
    this.requests.push({ operation, records: records.length });
    const list = this.lists.find((l) => l.id === id)!;
    for (const r of records) if (operation === 'ADD') list.members.add(r); else list.members.delete(r);
    return list;
  }
  async findAudiences(): Promise<Audience[]> { return []; }
  async createAudience(input: { name: string; listId: string }) { return { id: String(this.next++), name: input.name, customerListId: input.listId }; }
  report() { return { requests: this.requests.length, throttled: 0 }; }
  async close() {}
}



function syncFile(name: string, list = '{ name: VIP }', extra = ''): SyncDefinition {
  const text = `name: ${name}
kind: audience
source: { type: postgres, table: people, primary_key: id }
destination:
  ad_account_id: "1234"
  access_token: token
  customer_list: ${list}
  records_per_request: 3
match: { em: email }
${extra}`;
  const loaded = parseSync(text, `${name}.yaml`, { env: {} });
  expect(loaded.problems).toEqual([]);
  return loaded.sync!;
}

const people = (n: number, from = 0): Person[] => Array.from({ length: n }, (_, i) => ({ id: from + i, email: `person${from + i}@example.com` }));
const digestsOf = (list: Person[]) => new Set(list.map((p) => sha(p.email!)));

let dir: string;
let store: StateStore;
let pinterest: MemoryPinterest;
beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'pinsync-audience-review-'));
  store = await StateStore.open(path.join(dir, 'state.db'));
  pinterest = new MemoryPinterest();
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function run(sync: SyncDefinition, rows: Person[], options: { allowRemovals?: boolean; signal?: AbortSignal; onProgress?: () => void } = {}) {
  const { reader } = compileMembers(sync, ['id', 'email']);
  const plan = await planAudience(sync, memorySource(rows), reader!, store);
  const runId = await store.startRun(sync.name);
  return applyAudience({ sync, plan, listType: reader!.listType, client: pinterest, store, runId, ...options });
}

async function recordedMembers(sync: string): Promise<string[]> {
  const out: string[] = [];
  for await (const page of store.members(sync)) for (const [digest, standing] of page) if (standing === 'member') out.push(digest);
  return out;
}

describe('audience runs, adversarially', () => {
  it('does not let two syncs of one state keep one customer list (each would remove what the other added)', async () => {
    const a = syncFile('vip_a', '{ name: VIP }', 'options: { max_removal_rate: 1 }');
    const b = syncFile('vip_b', '{ name: VIP }', 'options: { max_removal_rate: 1 }');
    await run(a, people(3));
    // The second sync adopts the same list by name (or names it by id): it should be refused.
    await run(b, people(3)).catch(() => undefined);
    await run(a, people(2));
    // Whatever b's state records as on the list must be on it.
    const list = pinterest.lists[0]!;
    for (const digest of await recordedMembers('vip_b')) expect(list.members.has(digest), 'a member vip_b recorded was removed by vip_a').toBe(true);
  });

  it('lets a run interrupted after --allow-removals be finished by the next run', async () => {
    const sync = syncFile('vip');
    await run(sync, people(10));
    const stop = new AbortController();
    // SIGTERM after the first REMOVE request of 7 removals (3 requests).
    let removes = 0;
    const applied = await run(sync, people(3), {
      allowRemovals: true, signal: stop.signal,
      onProgress: () => {
        if (pinterest.requests.at(-1)?.operation === 'REMOVE' && ++removes === 1) stop.abort('signal');
      },
    });
    expect(applied.interrupted).toBe(true);
    // The next (scheduled) run carries on with what the user allowed: 4 of the 7 left are still to go.
    await run(sync, people(3));
    expect(pinterest.lists[0]!.members).toEqual(digestsOf(people(3)));
  });

  it('does not count digests of a list Pinterest refused to create as members to remove', async () => {
    const sync = syncFile('vip');
    pinterest.refuseCreate = true;
    await expect(run(sync, people(3))).rejects.toThrow(PinterestRefusedError);
    pinterest.refuseCreate = false;
    // No list exists: an empty query has nothing to remove, and pinsync knows no member.
    await run(sync, []);
    expect(await store.memberCounts(sync.name)).toEqual({ member: 0, adding: 0, removing: 0, leaving: 0 });
  });

  it('does not call a rejected row mapped in its summary', async () => {
    const sync = syncFile('vip');
    const { reader } = compileMembers(sync, ['id', 'email']);
    const plan = await planAudience(sync, memorySource([...people(2), { id: 9, email: 'not an email' }]), reader!, store);
    const text = formatRunSummary(sync, {
      ...ZERO_COUNTS, rowsRead: plan.rowsRead, rejectedLocal: plan.rejects.length, rejectsByReason: plan.rejectsByReason, droppedIdentifiers: plan.dropped,
      startedAt: new Date(), durationMs: 1, checkpoint: null,
    });
    expect(text).toContain('em: not an email address');
    // The one bad email is one reject; it is not also a value "left out" of a row that "was still mapped".
    expect(text).not.toContain('their rows were still mapped');
  });

  it('stops sending once another process took its lock, and the next run ends equal to the query', async () => {
    const sync = syncFile('vip');
    const lock = await store.lock(sync.name, { ttlMs: 60_000 });
    const other = knexFactory({ client: 'better-sqlite3', connection: { filename: path.join(dir, 'state.db') }, useNullAsDefault: true });
    try {
      let stolenAt = -1;
      const failed = await run(sync, people(10), {
        onProgress: () => {
          if (stolenAt >= 0) return;
          stolenAt = pinterest.requests.length;
          // Another process takes the lease over (this one's heartbeat stalled past its expiry).
          void other('locks').where({ sync: sync.name }).update({ token: 'someone-else' }).then(() => undefined);
        },
      }).then(() => undefined, (error: Error) => error);
      expect(failed?.message).toMatch(/lock|lease/i);
      // At most the request in flight when the lease changed hands went out after it.
      expect(pinterest.requests.length - stolenAt).toBeLessThanOrEqual(1);
      await other('locks').where({ sync: sync.name }).delete();
      await lock.release().catch(() => undefined);
      await run(sync, people(10));
      expect(pinterest.lists[0]!.members).toEqual(digestsOf(people(10)));
      expect(await store.memberCounts(sync.name)).toEqual({ member: 10, adding: 0, removing: 0, leaving: 0 });
    } finally {
      await other.destroy();
    }
  });

  it('names a list by a numeric id run after run, and after the list is deleted says to reset, then starts over', async () => {
    await pinterest.createList({ name: 'Made in Ads Manager', listType: 'EMAIL', records: [sha('someone@example.com')] });
    const sync = syncFile('vip', '{ id: 100 }');
    await run(sync, people(4));
    await run(sync, people(5));
    expect(pinterest.lists[0]!.members).toEqual(new Set([sha('someone@example.com'), ...digestsOf(people(5))]));
    // Deleted in Ads Manager: the run says so and points at reset.
    pinterest.lists = [];
    await expect(run(syncFile('named', '{ name: VIP }'), people(1))).resolves.toBeDefined();
    const named = syncFile('named', '{ name: VIP }');
    pinterest.lists = [];
    await expect(run(named, people(2))).rejects.toThrow(/is gone from ad account 1234 \(deleted in Ads Manager\?\): `pinsync reset named`/);
    await store.clearMembers(named.name);
    await store.clearAudienceList(named.name);
    await run(named, people(2));
    expect(pinterest.lists).toHaveLength(1);
    expect(pinterest.lists[0]!.members).toEqual(digestsOf(people(2)));
  });
});
