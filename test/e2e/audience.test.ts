// Audience syncs (kind: audience) through the built CLI: a PostgreSQL table of customers kept
// equal to a Pinterest customer list on the fake Pinterest, run after run; the removal guard,
// kill -9 and resume, the lock, the token, 429s, rejects and reset.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/cli.js';
import { audienceHarness, digestOf, rawEmail, recordsOf } from '../helpers/audience-syncs.js';

const h = audienceHarness('audience_e2e');
const { world, sql, cli, run, status, writeSync, createTable, addCustomers, expected, listNamed, writes, sent, stateBytes } = h;

// Every request pinsync sent is one the official description allows, and so is every answer.
afterEach(() => {
  expect(world.fake.invalidRequests).toEqual([]);
  expect(world.fake.invalidAnswers).toEqual([]);
});

const HEX = /^[0-9a-f]{64}$/;
/** Text that must never appear in output or state: the emails' domain, any case. */
const NO_EMAIL = /example\.com/i;
const records = (requests: ReturnType<typeof writes>) => requests.flatMap(recordsOf);

describe('a list kept equal to its query', () => {
  beforeAll(async () => {
    world.fake.reset();
    await createTable('vip', 1, 60);
    writeSync('vip', { listName: 'VIP customers', audience: 'VIP audience' });
  });

  it('preview before the first run: counts and digests, never an email, nothing sent', async () => {
    const preview = await cli(['preview', 'vip']);
    expect(preview.code).toBe(0);
    const plan = JSON.parse(preview.stdout);
    expect(plan).toMatchObject({
      kind: 'audience', customer_list_id: null, customer_list_name: 'VIP customers', list_type: 'EMAIL',
      members: 60, add: 60, remove: 0, keep: 0, known_size: 0, requests: 2, records_per_request: 50, removal_guard: null,
    });
    const wanted = await expected('vip');
    expect(plan.sample_add).toHaveLength(10);
    for (const digest of plan.sample_add) expect(wanted.has(digest)).toBe(true);
    expect(`${preview.stdout}${preview.stderr}`).not.toMatch(NO_EMAIL);
    expect(preview.stderr).toContain('nothing was sent');
    const table = await cli(['preview', 'vip', '--format', 'table', '--limit', '3']);
    expect(table.stdout).toContain('add 60, remove 0, keep 0');
    expect(table.stdout.split('\n').filter((l) => l.startsWith('ADD '))).toHaveLength(3);
    expect(`${table.stdout}${table.stderr}`).not.toMatch(NO_EMAIL);
    expect(world.fake.listLog).toHaveLength(0);
  });

  it('creates the list (and its audience) on the first run, holding the normalized emails\' digests', async () => {
    const { result, summary } = await run('vip');
    expect(result.code).toBe(0);
    const list = listNamed('VIP customers');
    expect(world.fake.membersOf(list.id)).toEqual(await expected('vip'));
    expect(world.fake.membersOf(list.id)).toContain(digestOf('customer7@example.com'));
    // One create with the first 50, one update with the other 10.
    expect(writes().map((r) => [r.endpoint, recordsOf(r).length])).toEqual([['customer_lists/create', 50], ['customer_lists/update', 10]]);
    expect(list.listType).toBe('EMAIL');
    expect(summary.audience).toMatchObject({ customer_list_id: list.id, created: true, added: 60, removed: 0, kept: 0, size: 60 });
    const [audience] = world.fake.audiences();
    expect(audience).toMatchObject({ name: 'VIP audience', customerListId: list.id });
    expect(`${result.stdout}${result.stderr}`).not.toMatch(NO_EMAIL);
  });

  it('status shows the list, its size and Pinterest\'s status (TOO_SMALL under 100 members)', async () => {
    const list = listNamed('VIP customers');
    const json = await status('vip');
    expect(json.audience).toMatchObject({
      customer_list_id: list.id, customer_list_name: 'VIP customers', list_type: 'EMAIL', audience_id: world.fake.audiences()[0]!.id, size: 60, unsettled: 0,
    });
    expect(json.audience.pinterest).toMatchObject({ status: 'TOO_SMALL', num_uploaded_user_records: 60, num_removed_user_records: 0, num_batches: 2 });
    expect(json.last_run).toMatchObject({ outcome: 'succeeded', members_added: 60, members_removed: 0 });
    const human = await cli(['status', 'vip']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`customer list ${list.id} 'VIP customers' (EMAIL)`);
    expect(human.stdout).toContain('members as pinsync knows them: 60');
    expect(human.stdout).toContain("Pinterest's status: TOO_SMALL");
  });

  it('grows: the next run adds only the new rows', async () => {
    await addCustomers('vip', 61, 120);
    const before = writes().length;
    const { result, summary } = await run('vip');
    expect(result.code).toBe(0);
    const added = writes().slice(before);
    expect(added.map((r) => [r.endpoint, (r.body as { operation_type: string }).operation_type, recordsOf(r).length]))
      .toEqual([['customer_lists/update', 'ADD', 50], ['customer_lists/update', 'ADD', 10]]);
    expect(new Set(records(added))).toEqual(new Set(Array.from({ length: 60 }, (_, i) => digestOf(rawEmail(61 + i)))));
    expect(world.fake.membersOf(listNamed('VIP customers').id)).toEqual(await expected('vip'));
    expect(summary.audience).toMatchObject({ created: false, added: 60, removed: 0, kept: 60, size: 120 });
    expect((await status('vip')).audience.pinterest).toMatchObject({ status: 'READY' });
  });

  it('shrinks: rows deleted within max_removal_rate are removed, and only they', async () => {
    await sql('DELETE FROM vip WHERE customer_id IN (3, 14, 15, 92, 93, 94, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 120)');
    const before = writes().length;
    const { result, summary } = await run('vip');
    expect(result.code).toBe(0);
    const removed = writes().slice(before);
    expect(removed).toHaveLength(1);
    expect(removed[0]!.body).toMatchObject({ operation_type: 'REMOVE' });
    expect(new Set(recordsOf(removed[0]!))).toEqual(new Set([3, 14, 15, ...Array.from({ length: 16 }, (_, i) => 92 + i), 120].map((id) => digestOf(rawEmail(id)))));
    expect(world.fake.membersOf(listNamed('VIP customers').id)).toEqual(await expected('vip'));
    expect(summary.audience).toMatchObject({ added: 0, removed: 20, kept: 100, size: 100 });
  });

  it('an unchanged query costs no write request', async () => {
    const before = writes().length;
    const { result, summary } = await run('vip');
    expect(result.code).toBe(0);
    expect(writes().length).toBe(before);
    expect(summary.audience).toMatchObject({ added: 0, removed: 0, kept: 100, size: 100 });
  });
});

describe('the removal guard', () => {
  beforeAll(async () => {
    world.fake.reset();
    await createTable('guarded', 1, 100);
    writeSync('guarded');
    expect((await run('guarded')).result.code).toBe(0);
  });

  it('refuses a run that would remove more than max_removal_rate: exit 3, nothing sent, says how many', async () => {
    await sql('DELETE FROM guarded WHERE customer_id <= 40');
    const logged = world.fake.listLog.length;
    const members = world.fake.membersOf(listNamed('guarded').id);
    const { result, summary } = await run('guarded');
    expect(result.code).toBe(3);
    expect(world.fake.listLog.length).toBe(logged);
    expect(world.fake.membersOf(listNamed('guarded').id)).toEqual(members);
    expect(result.stderr).toContain("would remove 40 of the list's 100 members (40 %)");
    expect(summary).toMatchObject({ outcome: 'removals_refused', exit_code: 3 });
    const json = await status('guarded');
    expect(json.last_run).toMatchObject({ outcome: 'removals_refused', members_removed: 0 });
    expect(json.last_run.error).toMatch(/would remove 40/);
    expect(json.audience).toMatchObject({ size: 100 });
    // preview says the same, and sends nothing either.
    const quiet = world.fake.listLog.length;
    const preview = await cli(['preview', 'guarded']);
    expect(preview.code).toBe(3);
    expect(JSON.parse(preview.stdout)).toMatchObject({ add: 0, remove: 40, keep: 60, known_size: 100, removal_guard: expect.stringContaining('would remove 40') });
    expect(world.fake.listLog.length).toBe(quiet);
  });

  it('refuses a query that returns nobody', async () => {
    await sql('DELETE FROM guarded');
    const logged = world.fake.listLog.length;
    const { result } = await run('guarded');
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('the query returned no members, so this run would remove all 100');
    expect(world.fake.listLog.length).toBe(logged);
    expect(world.fake.membersOf(listNamed('guarded').id).size).toBe(100);
  });

  it('run --allow-removals applies them', async () => {
    const before = writes().length;
    const { result, summary } = await run('guarded', ['--allow-removals']);
    expect(result.code).toBe(0);
    expect(world.fake.membersOf(listNamed('guarded').id)).toEqual(new Set());
    expect(sent('REMOVE', before).map((r) => recordsOf(r).length)).toEqual([50, 50]);
    expect(summary.audience).toMatchObject({ removed: 100, size: 0 });
  });
});

describe('kill -9 mid-run, then resume', () => {
  beforeAll(() => world.fake.reset());

  it('the list ends equal to the query, resending at most the request in flight', async () => {
    await createTable('killed', 1, 400);
    writeSync('killed');
    // Updates answer slowly; the third is the one in flight when the kill lands, and Pinterest
    // never applies it (it would have answered 503).
    world.fake.listScript.push(
      { endpoint: 'customer_lists/update', status: 0, delayMs: 200 },
      { endpoint: 'customer_lists/update', status: 0, delayMs: 200 },
      { endpoint: 'customer_lists/update', status: 503, delayMs: 800 },
    );
    const victim = h.start(['run', 'killed']);
    await waitUntil(() => world.fake.requestsTo('customer_lists/update').length >= 3);
    victim.child.kill('SIGKILL');
    expect((await victim.done).code).toBe(null);
    await world.fake.idle();
    const before = writes().length;
    const firstRun = records(writes());
    // The killed run had not finished: the rest is still to send, and the request in flight is unsettled.
    expect(firstRun.length).toBeLessThan(400);
    const killed = await status('killed');
    expect(killed.audience).toMatchObject({ unsettled: 50 });
    expect(killed.last_run).toMatchObject({ outcome: 'running' });
    const { result, summary } = await run('killed');
    expect(result.code).toBe(0);
    expect(world.fake.membersOf(listNamed('killed').id)).toEqual(await expected('killed'));
    const again = records(writes().slice(before)).filter((d) => firstRun.includes(d));
    expect(again.length).toBeGreaterThan(0);
    expect(again.length).toBeLessThanOrEqual(50);
    expect(summary.resent).toBeGreaterThanOrEqual(again.length);
    expect(summary.resent).toBeLessThanOrEqual(50);
    expect(sent('REMOVE')).toEqual([]);
  });

  it('killed while Pinterest creates the list: the next run finds it by its name, and creates no second one', async () => {
    await createTable('killed_create', 1, 120);
    writeSync('killed_create');
    // The create is applied after 800 ms; the kill lands before its answer.
    world.fake.listScript.push({ endpoint: 'customer_lists/create', status: 0, delayMs: 800 });
    const victim = h.start(['run', 'killed_create']);
    await waitUntil(() => world.fake.requestsTo('customer_lists/create').some((r) => (r.body as { name?: string }).name === 'killed_create'));
    victim.child.kill('SIGKILL');
    await victim.done;
    await world.fake.idle();
    const list = listNamed('killed_create');
    const created = new Set(recordsOf(world.fake.requestsTo('customer_lists/create').at(-1)!));
    const from = writes().length;
    const { result, summary } = await run('killed_create');
    expect(result.code).toBe(0);
    expect(listNamed('killed_create').id).toBe(list.id);
    expect(world.fake.membersOf(list.id)).toEqual(await expected('killed_create'));
    expect(summary.audience).toMatchObject({ adopted: true, created: false, size: 120 });
    // Sent again: at most the create's 50, which the state had marked before sending.
    expect(records(writes().slice(from)).filter((d) => created.has(d)).length).toBeLessThanOrEqual(50);
    expect(summary.resent).toBe(50);
  });

  it('a member whose ADD Pinterest applied but whose answer was lost, gone from the query before the resume, ends removed', async () => {
    await createTable('lost_answer', 1, 200);
    writeSync('lost_answer');
    // The second update is applied, then its answer never comes (headers, then a byte at a time).
    world.fake.listScript.push(
      { endpoint: 'customer_lists/update', status: 0 },
      { endpoint: 'customer_lists/update', status: 200, afterApplying: true, dripMs: 100 },
    );
    const from = writes().length;
    const victim = h.start(['run', 'lost_answer']);
    await waitUntil(() => world.fake.dripping > 0);
    const lost = writes().at(-1)!;
    const lostRecords = recordsOf(lost);
    const list = listNamed('lost_answer');
    // Pinterest holds them...
    for (const digest of lostRecords) expect(world.fake.membersOf(list.id)).toContain(digest);
    victim.child.kill('SIGKILL');
    await victim.done;
    await world.fake.idle();
    // ...and one of them leaves the query before the next run.
    const leaving = [...Array(200).keys()].map((i) => i + 1).find((id) => digestOf(rawEmail(id)) === lostRecords[0])!;
    expect(leaving).toBeDefined();
    await sql('DELETE FROM lost_answer WHERE customer_id = $1', [leaving]);
    const { result, summary } = await run('lost_answer');
    expect(result.code).toBe(0);
    expect(world.fake.membersOf(list.id)).not.toContain(digestOf(rawEmail(leaving)));
    expect(world.fake.membersOf(list.id)).toEqual(await expected('lost_answer'));
    expect(records(sent('REMOVE', from))).toEqual([digestOf(rawEmail(leaving))]);
    expect(summary.audience).toMatchObject({ removed: 1, size: 199 });
  });
});

describe('two runs at once', () => {
  it('the second exits 4 naming the holder, and changes nothing', async () => {
    world.fake.reset();
    await createTable('locked', 1, 200);
    writeSync('locked');
    // The first update hangs (its answer never ends): the first run holds the lock meanwhile.
    world.fake.listScript.push({ endpoint: 'customer_lists/update', status: 200, dripMs: 100 });
    const holder = h.start(['run', 'locked']);
    await waitUntil(() => world.fake.dripping > 0);
    const members = world.fake.membersOf(listNamed('locked').id);
    const logged = world.fake.listLog.length;
    const second = await run('locked');
    expect(second.result.code).toBe(4);
    expect(second.result.stderr).toContain(`sync locked is already running (pid ${holder.child.pid}`);
    // reset waits for no run either: it would forget what the holder is sending.
    const reset = await cli(['reset', 'locked']);
    expect(reset.code).toBe(4);
    expect(reset.stderr).toContain(`pid ${holder.child.pid}`);
    expect(world.fake.listLog.length).toBe(logged);
    expect(world.fake.membersOf(listNamed('locked').id)).toEqual(members);
    holder.child.kill('SIGKILL');
    await holder.done;
    await world.fake.idle();
    // The holder is gone: the next run takes the lock and finishes.
    expect((await run('locked')).result.code).toBe(0);
    expect(world.fake.membersOf(listNamed('locked').id)).toEqual(await expected('locked'));
    // Two runs recorded: the killed holder's and this one; the refused one left no record.
    expect((await status('locked')).runs.map((r) => r.outcome)).toEqual(['succeeded', 'killed']);
  });
});

describe('the token', () => {
  it('a conversion token: exit 1, says an OAuth token with ads:write is needed, never prints the token', async () => {
    world.fake.reset();
    await createTable('wrong_token', 1, 10);
    writeSync('wrong_token', { maxRetryTime: '2s' });
    const { result, summary } = await run('wrong_token', [], { PINTEREST_ACCESS_TOKEN: world.fake.token });
    expect(result.code).toBe(1);
    expect(summary).toMatchObject({ outcome: 'failed', exit_code: 1 });
    expect(summary.error).toMatch(/OAuth access token with .*ads:write/);
    expect(result.stderr).toMatch(/OAuth access token with .*ads:write/);
    expect(`${result.stdout}${result.stderr}`).not.toContain(world.fake.token);
    expect(world.fake.listLog.length).toBeGreaterThan(0);
    expect(world.fake.listLog.every((r) => r.status === 401)).toBe(true);
    expect(world.fake.lists()).toEqual([]);
    expect(stateBytes()).not.toContain(world.fake.token);
  });
});

describe('429s', () => {
  it('waits out Retry-After and succeeds; run --json counts answered_429', async () => {
    world.fake.reset();
    await createTable('throttled', 1, 120);
    writeSync('throttled');
    world.fake.listScript.push(
      { endpoint: 'customer_lists/update', status: 429, retryAfter: '1' },
      { endpoint: 'customer_lists/update', status: 429, retryAfter: '1' },
    );
    const { result, summary } = await run('throttled');
    expect(result.code).toBe(0);
    expect(summary.audience).toMatchObject({ answered_429: 2, added: 120 });
    expect(world.fake.membersOf(listNamed('throttled').id)).toEqual(await expected('throttled'));
    // Each request after a 429 came at least Retry-After (1 s) later, by the fake's clock.
    const updates = world.fake.requestsTo('customer_lists/update');
    expect(updates.map((r) => r.status)).toEqual([429, 429, 200, 200]);
    const at = updates.map((r) => world.arrivedAt.get(r)!);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(990);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(990);
  });
});

describe('rejects', () => {
  it('a malformed email is rejected by its primary key, and appears nowhere in output or state', async () => {
    world.fake.reset();
    await createTable('with_rejects', 1, 30);
    await sql(`UPDATE with_rejects SET email = ' Broken.Address.example.com ' WHERE customer_id = 7`);
    await sql('UPDATE with_rejects SET email = NULL WHERE customer_id = 8');
    writeSync('with_rejects', { maxRejectRate: 0.5 });
    const preview = await cli(['preview', 'with_rejects']);
    const { result, summary } = await run('with_rejects');
    expect(result.code).toBe(0);
    expect(summary).toMatchObject({ rows_read: 30, rejected_local: 2 });
    expect(summary.audience).toMatchObject({ added: 28 });
    expect(world.fake.membersOf(listNamed('with_rejects').id)).toEqual(await expected('with_rejects'));
    const json = await status('with_rejects');
    const human = await cli(['status', 'with_rejects']);
    // No email, good or malformed, in any output or in the state's bytes; Pinterest got digests only.
    for (const output of [preview, result, human]) {
      expect(`${output.stdout}${output.stderr}`).not.toMatch(NO_EMAIL);
      expect(`${output.stdout}${output.stderr}`).not.toMatch(/broken/i);
    }
    expect(JSON.stringify(json)).not.toMatch(NO_EMAIL);
    const state = stateBytes();
    expect(state.length).toBeGreaterThan(0);
    expect(state).not.toMatch(NO_EMAIL);
    expect(state).not.toMatch(/broken/i);
    expect(state).not.toMatch(/customer\d+@/i);
    for (const r of writes()) for (const record of recordsOf(r)) expect(record).toMatch(HEX);
    // The rejects are named by primary key, in status and in preview.
    expect(json.last_run_rejects).toEqual(expect.arrayContaining([
      expect.objectContaining({ primary_key: '7', stage: 'local', reason: 'em: not an email address' }),
      expect.objectContaining({ primary_key: '8', stage: 'local' }),
    ]));
    expect(human.stdout).toMatch(/ {4}7 {2}\[local\] {2}em: not an email address/);
    expect(preview.stderr).toMatch(/^7: em: not an email address$/m);
  });
});

describe('reset', () => {
  it('forgets the membership: the next run adds every member again and removes none', async () => {
    world.fake.reset();
    await createTable('resettable', 1, 80);
    writeSync('resettable');
    expect((await run('resettable')).result.code).toBe(0);
    const list = listNamed('resettable');
    await sql('DELETE FROM resettable WHERE customer_id > 70');
    const reset = await cli(['reset', 'resettable']);
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain(`forgot 80 members of customer list ${list.id}`);
    const before = writes().length;
    const { result, summary } = await run('resettable');
    expect(result.code).toBe(0);
    // The same list, found by its name; every member of the query sent again; nothing removed.
    expect(world.fake.lists().map((l) => l.id)).toEqual([list.id]);
    expect(sent('REMOVE', before)).toEqual([]);
    expect(new Set(records(sent('ADD', before)))).toEqual(await expected('resettable'));
    expect(records(sent('ADD', before))).toHaveLength(70);
    expect(summary.audience).toMatchObject({ adopted: true, created: false, added: 70, removed: 0, size: 70 });
    // Pinterest still holds the 10 pinsync forgot: reset says they stay.
    expect(world.fake.membersOf(list.id).size).toBe(80);
  });
});
