// Every event exactly once on the tables real warehouses hold: keys that repeat, date and text
// cursors, values stamped in the future, lookback turned on late, rejects re-read, reset --to.
// The built CLI, a real PostgreSQL, and the fake Pinterest on 127.0.0.1.
import { beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../helpers/pg.js';
import { pgSyncHarness, range } from '../helpers/pg-sync.js';

const { world, sql, createTable, cli, run, status, writeSync, delivered } = pgSyncHarness('exactly_once_e2e');

describe('a primary key that is not unique', () => {
  // The table and its sync file; only the first test runs it (the others read, writing no state).
  beforeAll(async () => {
    await createTable('by_status');
    await sql(`INSERT INTO by_status (id, status, updated_at, email)
      SELECT i, CASE WHEN i % 2 = 0 THEN 'paid' ELSE 'open' END, now() - interval '1 hour' + i * interval '1 second', 'u' || i || '@example.com'
      FROM generate_series(1, 30) i`);
    writeSync('by_status', { primaryKey: 'status', cursor: 'updated_at' });
  });

  it('sends each event_id once in a run and rejects the repeats by name', async () => {
    const { result, summary } = await run('by_status');
    // Two event_ids: Pinterest would have kept one of each and lost 28 events without a word.
    expect([...world.fake.delivered.keys()].sort()).toEqual(['open', 'paid']);
    expect(world.fake.duplicates()).toEqual([]);
    expect(summary).toMatchObject({ rows_read: 30, processed: 2, rejected_local: 28 });
    expect(summary.rejects_by_reason).toEqual({ 'event_id: duplicate event_id: primary_key is not unique': 28 });
    expect(result.code).toBe(3);
    const rejects = (await status('by_status')).last_run_rejects as { primary_key: string; reason: string }[];
    expect(rejects).toHaveLength(28);
    expect(rejects[0]!.reason).toBe('event_id: duplicate event_id: primary_key is not unique');
    expect(JSON.stringify(rejects)).not.toContain('@example.com');
  });

  it('is refused by validate --connect, naming the column and a count, never a value', async () => {
    const result = await cli(['validate', '--connect', 'syncs/by_status.yaml']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/by_status\.yaml:\d+:\d+: source\.primary_key: primary_key 'status' is not unique: one value is shared by 15 rows \(2 distinct values in the 30 rows checked\)/);
    expect(result.stderr).not.toMatch(/paid|open/);
    writeSync('by_id', { cursor: 'updated_at' });
    await sql('CREATE VIEW by_id AS SELECT * FROM by_status');
    expect((await cli(['validate', '--connect', 'syncs/by_id.yaml'])).code).toBe(0);
  });

  it('is the same in preview: the repeats are rejects, not events', async () => {
    const result = await cli(['preview', 'by_status', '--full-refresh']);
    expect(result.stdout.trim().split('\n')).toHaveLength(2);
    expect(result.stderr).toContain('duplicate event_id: primary_key is not unique');
  });
});

describe('a batch refused whole with 400', () => {
  it('never wedges a sync Pinterest has taken events from: its bad events are isolated, even when the probed ones are all bad', async () => {
    await createTable('probed');
    await sql(`INSERT INTO probed (id, updated_at, email) SELECT i, now() - interval '2 hours' + i * interval '1 second', 'p' || i || '@example.com' FROM generate_series(1, 5) i`);
    writeSync('probed', { cursor: 'updated_at' });
    expect((await run('probed')).summary).toMatchObject({ processed: 5 });
    // Quiet runs since (nothing new) must not make pinsync forget that Pinterest took its events.
    for (let i = 0; i < 5; i++) expect((await run('probed')).summary).toMatchObject({ processed: 0 });
    world.fake.reset();
    // 20 more rows in one batch of 20; the first, middle and last (the probes) are refused.
    await sql(`INSERT INTO probed (id, updated_at, email) SELECT i, now() - interval '1 hour' + i * interval '1 second', 'p' || i || '@example.com' FROM generate_series(101, 120) i`);
    for (const id of ['101', '111', '120']) world.fake.badRequestEvents.add(id);
    const { result, summary } = await run('probed');
    expect(summary).toMatchObject({ processed: 17, rejected_pinterest: 3 });
    expect(result.code).toBe(3);
    expect(delivered()).toEqual(range(101, 120).filter((id) => !['101', '111', '120'].includes(id)));
  });

  it('fails at once, as the request\'s fault, for a sync Pinterest never took an event from', async () => {
    await createTable('probed_new');
    await sql(`INSERT INTO probed_new (id, updated_at, email) SELECT i, now() - interval '1 hour' + i * interval '1 second', 'n' || i || '@example.com' FROM generate_series(1, 20) i`);
    writeSync('probed_new', { cursor: 'updated_at' });
    for (let i = 1; i <= 20; i++) world.fake.badRequestEvents.add(String(i));
    const { result } = await run('probed_new');
    expect(result.code).toBe(1);
    expect(world.fake.requests).toBeLessThanOrEqual(4);
  });
});

describe('rejects that time can lift', () => {
  it('sends an event once its event_time is no longer in the future, however the row is re-read', async () => {
    await createTable('ahead');
    await sql(`INSERT INTO ahead (id, updated_at, email, created_at) VALUES
      (1, now() - interval '20 minutes', 'a1@example.com', now() - interval '1 minute'),
      (2, now() - interval '10 minutes', 'a2@example.com', now() + interval '2 hours')`);
    writeSync('ahead', { cursor: 'updated_at', lookback: '3h' });
    const first = await run('ahead');
    expect(first.summary).toMatchObject({ processed: 1, rejected_local: 1 });
    expect(first.summary.rejects_by_reason).toEqual({ 'event_time: in the future': 1 });
    // Time passes (here: the value is corrected without touching the cursor); a settled reject
    // must not hide the event the row now maps to.
    world.fake.reset();
    await sql(`UPDATE ahead SET created_at = now() - interval '1 minute' WHERE id = 2`);
    const second = await run('ahead');
    expect(delivered()).toEqual(['2']);
    expect(second.summary).toMatchObject({ processed: 1, already_delivered: 1 });
  });
});

describe('cursors', () => {
  it('reads rows that land later on the checkpoint\'s day with a smaller key (date cursor)', async () => {
    await createTable('by_day');
    await sql(`INSERT INTO by_day (id, day, email) SELECT i, current_date - 1, 'd' || i || '@example.com' FROM generate_series(1, 5) i`);
    await sql(`INSERT INTO by_day (id, day, email) SELECT i, current_date, 'd' || i || '@example.com' FROM generate_series(20, 30) i`);
    writeSync('by_day', { cursor: 'day' });
    expect((await run('by_day')).summary).toMatchObject({ processed: 16 });
    expect((await status('by_day')).checkpoint!.key).toBe('30');
    world.fake.reset();
    // Later the same day: a new row with a smaller key, and an old row updated to today.
    await sql(`INSERT INTO by_day (id, day, email) VALUES (10, current_date, 'd10@example.com')`);
    await sql('UPDATE by_day SET day = current_date WHERE id = 3');
    const second = await run('by_day');
    expect(delivered()).toEqual(['3', '10']);
    expect(second.summary).toMatchObject({ processed: 2, already_delivered: 11 });
    world.fake.reset();
    expect((await run('by_day')).summary).toMatchObject({ processed: 0 });
    expect(world.fake.delivered.size).toBe(0);
  });

  it('refuses a text cursor at validate --connect and at run time, naming the file and the fix', async () => {
    await createTable('by_label');
    await sql(`INSERT INTO by_label (id, label, email) VALUES (1, '9', 'a@example.com'), (2, '10', 'b@example.com')`);
    writeSync('by_label', { cursor: 'label' });
    const validate = await cli(['validate', '--connect', 'syncs/by_label.yaml']);
    expect(validate.code).toBe(2);
    expect(validate.stderr).toMatch(/by_label\.yaml:7:\d+: source\.cursor: cursor column 'label' is text; a cursor must be a timestamp, a date or an integer/);
    const result = await run('by_label');
    expect(result.result.code).toBe(2);
    expect(result.result.stderr).toContain("cursor column 'label' is text");
    expect(world.fake.requests).toBe(0);
  });

  it('refuses lookback with an integer cursor before the first run', async () => {
    await createTable('by_version');
    await sql(`INSERT INTO by_version (id, version, email) VALUES (1, 1, 'a@example.com')`);
    writeSync('by_version', { cursor: 'version', lookback: '2h' });
    const validate = await cli(['validate', '--connect', 'syncs/by_version.yaml']);
    expect(validate.code).toBe(2);
    expect(validate.stderr).toMatch(/by_version\.yaml:8:\d+: source\.lookback: lookback is a time window, and cursor column 'version' is bigint/);
    expect((await run('by_version')).result.code).toBe(2);
    expect(world.fake.requests).toBe(0);
  });

  it('leaves rows stamped in the future (2099, infinity) for later, without moving the checkpoint there', async () => {
    await createTable('stamped');
    await sql(`INSERT INTO stamped (id, updated_at, email) SELECT i, now() - interval '10 minutes' + i * interval '1 second', 's' || i || '@example.com' FROM generate_series(1, 10) i`);
    await sql(`INSERT INTO stamped (id, updated_at, email) VALUES (11, '2099-01-01', 's11@example.com'), (12, 'infinity', 's12@example.com')`);
    writeSync('stamped', { cursor: 'updated_at' });
    const first = await run('stamped');
    expect(first.result.code).toBe(0);
    expect(delivered()).toEqual(range(1, 10));
    expect(first.result.stderr).toMatch(/warning: .*2 rows have updated_at later than now .* and are not read yet; they are read once time reaches them/);
    expect((await status('stamped')).checkpoint!.key).toBe('10');
    world.fake.reset();
    // A row written now is still read: the checkpoint did not jump to 2099.
    await sql(`INSERT INTO stamped (id, updated_at, email) VALUES (13, now(), 's13@example.com')`);
    await run('stamped');
    expect(delivered()).toEqual(['13']);
    // Once time reaches a row, it is read (here: the row is corrected to now).
    world.fake.reset();
    await sql(`UPDATE stamped SET updated_at = now() WHERE id = 11`);
    await run('stamped');
    expect(delivered()).toEqual(['11']);
  });
});

describe('lookback and the ledger', () => {
  it('turning lookback on resends nothing, and then catches rows that land late', async () => {
    await createTable('late_on');
    await sql(`INSERT INTO late_on (id, updated_at, email) SELECT i, now() - (60 - i) * interval '1 minute', 'l' || i || '@example.com' FROM generate_series(1, 50) i`);
    writeSync('late_on', { cursor: 'updated_at' });
    expect((await run('late_on')).summary).toMatchObject({ processed: 50 });
    world.fake.reset();
    writeSync('late_on', { cursor: 'updated_at', lookback: '3h' });
    expect((await run('late_on')).summary).toMatchObject({ rows_read: 0, processed: 0 });
    expect(world.fake.requests).toBe(0);
    // From now on, a row committed late (cursor before the checkpoint, inside the window) is caught.
    await sql(`INSERT INTO late_on (id, updated_at, email) VALUES (100, now(), 'l100@example.com')`);
    expect((await run('late_on')).summary).toMatchObject({ processed: 1 });
    world.fake.reset();
    await sql(`INSERT INTO late_on (id, updated_at, email) VALUES (101, now() - interval '5 minutes', 'l101@example.com')`);
    const late = await run('late_on');
    expect(delivered()).toEqual(['101']);
    expect(late.summary).toMatchObject({ processed: 1, already_delivered: 1 });
    // Widening the window later must not resend what the ledger never held either.
    world.fake.reset();
    writeSync('late_on', { cursor: 'updated_at', lookback: '2d' });
    expect((await run('late_on')).summary).toMatchObject({ processed: 0 });
    expect(world.fake.requests).toBe(0);
  });

  it('settles a reject once: a re-read reject is neither counted nor reported again', async () => {
    await createTable('late_rejects');
    await sql(`INSERT INTO late_rejects (id, updated_at, email) SELECT i, now() - (60 - i) * interval '1 minute',
      CASE WHEN i <= 5 THEN NULL ELSE 'r' || i || '@example.com' END FROM generate_series(1, 20) i`);
    writeSync('late_rejects', { cursor: 'updated_at', lookback: '3h' });
    const first = await run('late_rejects');
    expect(first.summary).toMatchObject({ processed: 15, rejected_local: 5, exit_code: 3 });
    const second = await run('late_rejects');
    expect(second.result.code).toBe(0);
    expect(second.summary).toMatchObject({ processed: 0, rejected_local: 0, already_delivered: 20 });
    expect((await status('late_rejects')).last_run_rejects).toEqual([]);
    // --full-refresh still means everything, from the start.
    world.fake.reset();
    expect((await cli(['run', 'late_rejects', '--full-refresh', '--json'])).stdout).toContain('"processed":15,');
  });

  it('preview --remote-test starts where a run would, window and ledger included', async () => {
    await createTable('late_preview');
    await sql(`INSERT INTO late_preview (id, updated_at, email) SELECT i, now() - (60 - i) * interval '1 minute', 'p' || i || '@example.com' FROM generate_series(1, 50) i`);
    writeSync('late_preview', { cursor: 'updated_at', lookback: '3h' });
    expect((await run('late_preview')).summary).toMatchObject({ processed: 50 });
    world.fake.reset();
    await sql(`INSERT INTO late_preview (id, updated_at, email) VALUES (100, now() - interval '30 minutes', 'p100@example.com')`);
    const preview = await cli(['preview', 'late_preview']);
    expect(preview.stdout.trim().split('\n').map((l) => JSON.parse(l).event_id)).toEqual(['100']);
    const remote = await cli(['preview', 'late_preview', '--remote-test']);
    expect(remote.code).toBe(0);
    expect([...world.fake.testDelivered.keys()]).toEqual(['100']);
    expect(world.fake.delivered.size).toBe(0);
  });

  it('reset --to sends every row after the value again and nothing at or before it, window included', async () => {
    await createTable('rewind');
    await sql(`INSERT INTO rewind (id, updated_at, email) SELECT i, date_trunc('second', now()) - (60 - i) * interval '1 minute', 'w' || i || '@example.com'
      FROM generate_series(1, 40) i`);
    writeSync('rewind', { cursor: 'updated_at', lookback: '3h' });
    expect((await run('rewind')).summary).toMatchObject({ processed: 40 });
    const to = await withClient(world.dbUrl, async (c) => (await c.query<{ t: string }>('SELECT updated_at::text AS t FROM rewind WHERE id = 25')).rows[0]!.t);
    world.fake.reset();
    const reset = await cli(['reset', 'rewind', '--to', to]);
    expect(reset.code).toBe(0);
    await run('rewind');
    expect(delivered()).toEqual(range(26, 40));
  });

  it('reset --to refuses a value of the wrong type, and a sync file it cannot load, changing nothing', async () => {
    await createTable('rewind_refused');
    await sql(`INSERT INTO rewind_refused (id, updated_at, email) SELECT i, now() - (60 - i) * interval '1 minute', 'v' || i || '@example.com' FROM generate_series(1, 40) i`);
    writeSync('rewind_refused', { cursor: 'updated_at', lookback: '3h' });
    expect((await run('rewind_refused')).summary).toMatchObject({ processed: 40 });
    const before = (await status('rewind_refused')).checkpoint;
    expect(before).toMatchObject({ key: '40' });
    const wrong = await cli(['reset', 'rewind_refused', '--to', 'not-a-date']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("--to 'not-a-date' is not a value of updated_at (timestamp with time zone)");
    writeSync('rewind_refused', { cursor: 'updated_at', lookback: '3h', url: '${UNSET_WAREHOUSE_URL}' });
    const unloadable = await cli(['reset', 'rewind_refused', '--to', '2026-01-01']);
    expect(unloadable.code).toBe(2);
    expect(unloadable.stderr).toContain('UNSET_WAREHOUSE_URL');
    expect((await cli(['reset', 'rewind_refused'])).code).toBe(2);
    expect((await status('rewind_refused')).checkpoint).toEqual(before);
  });
});
