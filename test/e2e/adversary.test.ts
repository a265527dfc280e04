// Adversarial cases for "every event exactly once, nothing leaked, no sync ever wedged":
// crashes on coarse cursors, reset --to on every cursor kind, sentinel cursor values, answers
// that mix good and bad events. The built CLI, a real PostgreSQL, the fake Pinterest.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startCli } from '../helpers/cli.js';
import { withClient } from '../helpers/pg.js';
import { pgSyncHarness, range } from '../helpers/pg-sync.js';

const { world, sql, createTable, env, cli, run, writeSync, delivered } = pgSyncHarness('adversary_e2e', { concurrency: 1 });
const start = (args: string[]) => startCli(args, { cwd: world.work, env: env() });

describe('sentinel cursor values', () => {
  it('a checkpoint on a -infinity timestamp does not wedge a lookback sync', async () => {
    await createTable('minus_inf');
    await sql(`INSERT INTO minus_inf (id, updated_at, email) SELECT i, '-infinity', 'm' || i || '@example.com' FROM generate_series(1, 3) i`);
    writeSync('minus_inf', { cursor: 'updated_at', lookback: '1h' });
    expect((await run('minus_inf')).summary).toMatchObject({ processed: 3 });
    await sql(`INSERT INTO minus_inf (id, updated_at, email) VALUES (4, now() - interval '5 minutes', 'm4@example.com')`);
    world.fake.reset();
    const second = await run('minus_inf');
    expect(second.result.stderr).toBe('');
    expect(second.result.code).toBe(0);
    expect(delivered()).toEqual(['4']);
    // The checkpoint left -infinity behind: the window works again, and nothing is sent twice.
    world.fake.reset();
    await sql(`INSERT INTO minus_inf (id, updated_at, email) VALUES (5, now() - interval '10 minutes', 'm5@example.com')`);
    expect((await run('minus_inf')).summary).toMatchObject({ processed: 1, already_delivered: 1 });
    expect(delivered()).toEqual(['5']);
  });

  it('a checkpoint on a -infinity date does not wedge a date-cursor sync', async () => {
    await createTable('minus_inf_day');
    await sql(`INSERT INTO minus_inf_day (id, day, email) SELECT i, '-infinity', 'd' || i || '@example.com' FROM generate_series(1, 3) i`);
    writeSync('minus_inf_day', { cursor: 'day' });
    expect((await run('minus_inf_day')).summary).toMatchObject({ processed: 3 });
    await sql(`INSERT INTO minus_inf_day (id, day, email) VALUES (4, current_date, 'd4@example.com')`);
    world.fake.reset();
    const second = await run('minus_inf_day');
    expect(second.result.code).toBe(0);
    expect(delivered()).toEqual(['4']);
    world.fake.reset();
    expect((await run('minus_inf_day')).summary).toMatchObject({ processed: 0, already_delivered: 1 });
  });
});


describe('date cursors', () => {
  it('SIGKILLed mid-run over several days: the next run sends the rest once, resending at most what was in flight', async () => {
    await createTable('day_kill');
    // 600 rows over three days, keys interleaved across the days.
    await sql(`INSERT INTO day_kill (id, day, email) SELECT i, current_date - (i % 3), 'k' || i || '@example.com' FROM generate_series(1, 600) i`);
    writeSync('day_kill', { cursor: 'day' });
    world.fake.latencyMs = 30;
    const victim = start(['run', 'day_kill']);
    await world.fake.deliveredAtLeast(250, victim.done);
    victim.child.kill('SIGKILL');
    await victim.done;
    await world.fake.idle();
    world.fake.latencyMs = 0;
    const counts = new Map(world.fake.delivered);
    world.fake.delivered.clear();
    // Later on the checkpoint's day: a new row with a small key, and a row rejected then fixed.
    await sql(`INSERT INTO day_kill (id, day, email) VALUES (0, current_date, 'k0@example.com'), (1000, current_date, NULL)`);
    const second = await run('day_kill');
    expect(second.result.code).toBe(0);
    expect(second.summary.rejected_local).toBe(1);
    for (const [id, n] of world.fake.delivered) counts.set(id, (counts.get(id) ?? 0) + n);
    expect([...counts.keys()].sort((a, b) => Number(a) - Number(b))).toEqual(range(0, 600));
    const twice = [...counts].filter(([, n]) => n > 1);
    expect(twice.length).toBeLessThanOrEqual(20);
    // `resent` counts what the killed run may have delivered: a request cut off by the kill counts, though it never arrived.
    expect(second.summary.resent).toBeGreaterThanOrEqual(twice.length);
    expect(second.summary.resent).toBeLessThanOrEqual(20);
    world.fake.reset();
    await sql(`UPDATE day_kill SET email = 'k1000@example.com' WHERE id = 1000`);
    const third = await run('day_kill');
    expect(delivered()).toEqual(['1000']);
    expect(third.summary).toMatchObject({ processed: 1, rejected_local: 0 });
    world.fake.reset();
    expect((await run('day_kill')).summary).toMatchObject({ processed: 0, rejected_local: 0 });
  });

  it('with lookback: 2d, catches a row landing two days back, and sends nothing twice', async () => {
    await createTable('day_back');
    await sql(`INSERT INTO day_back (id, day, email) SELECT i, current_date - (i % 4), 'b' || i || '@example.com' FROM generate_series(1, 40) i`);
    writeSync('day_back', { cursor: 'day', lookback: '2d' });
    expect((await run('day_back')).summary).toMatchObject({ processed: 40 });
    world.fake.reset();
    expect((await run('day_back')).summary).toMatchObject({ processed: 0 });
    await sql(`INSERT INTO day_back (id, day, email) VALUES (100, current_date - 2, 'b100@example.com'), (101, current_date - 3, 'b101@example.com')`);
    await run('day_back');
    // Two days back is inside the window; three days back is not (and is lost, as documented).
    expect(delivered()).toEqual(['100']);
  });
});

describe('lookback switched around', () => {
  it('on, off, on again; narrowed then widened: nothing twice, late rows inside the window caught', async () => {
    await createTable('flip');
    await sql(`INSERT INTO flip (id, naive, email) SELECT i, (now() AT TIME ZONE 'UTC') - (60 - i) * interval '1 minute', 'f' || i || '@example.com'
      FROM generate_series(1, 50) i`);
    // A timestamp without time zone, in UTC as pinsync reads it.
    writeSync('flip', { cursor: 'naive', lookback: '3h' });
    expect((await run('flip')).summary).toMatchObject({ processed: 50 });
    writeSync('flip', { cursor: 'naive' });
    world.fake.reset();
    await sql(`INSERT INTO flip (id, naive, email) VALUES (51, now() AT TIME ZONE 'UTC', 'f51@example.com')`);
    expect((await run('flip')).summary).toMatchObject({ processed: 1 });
    writeSync('flip', { cursor: 'naive', lookback: '3h' });
    expect((await run('flip')).summary).toMatchObject({ processed: 0, rows_read: 0 });
    await sql(`INSERT INTO flip (id, naive, email) VALUES (52, now() AT TIME ZONE 'UTC', 'f52@example.com')`);
    expect((await run('flip')).summary).toMatchObject({ processed: 1 });
    // Landing late between 51 and 52: after where the ledger starts (51), so it is caught.
    await sql(`INSERT INTO flip (id, naive, email) SELECT 53, a.naive + (b.naive - a.naive) / 2, 'f53@example.com' FROM flip a, flip b WHERE a.id = 51 AND b.id = 52`);
    expect((await run('flip')).summary).toMatchObject({ processed: 1, already_delivered: 1 });
    writeSync('flip', { cursor: 'naive', lookback: '1s' });
    await run('flip');
    writeSync('flip', { cursor: 'naive', lookback: '5h' });
    // Before where the (narrowed) ledger starts: not read, as documented; nothing resent either.
    await sql(`INSERT INTO flip (id, naive, email) VALUES (54, now() AT TIME ZONE 'UTC' - interval '20 minutes', 'f54@example.com')`);
    expect((await run('flip')).summary).toMatchObject({ processed: 0 });
    expect(world.fake.duplicates()).toEqual([]);
    expect(delivered()).toEqual(['51', '52', '53']);
  });

  it('--full-refresh on a lookback sync, then normal runs: one full resend, then nothing twice', async () => {
    await createTable('refresh');
    await sql(`INSERT INTO refresh (id, updated_at, email) SELECT i, now() - (60 - i) * interval '1 minute', 'r' || i || '@example.com' FROM generate_series(1, 30) i`);
    writeSync('refresh', { cursor: 'updated_at', lookback: '2h' });
    expect((await run('refresh')).summary).toMatchObject({ processed: 30 });
    world.fake.reset();
    expect((await cli(['run', 'refresh', '--full-refresh', '--json'])).code).toBe(0);
    expect(delivered()).toEqual(range(1, 30));
    world.fake.reset();
    await sql(`INSERT INTO refresh (id, updated_at, email) VALUES (31, now() - interval '90 minutes', 'r31@example.com')`);
    expect((await run('refresh')).summary).toMatchObject({ processed: 1 });
    expect((await run('refresh')).summary).toMatchObject({ processed: 0 });
    expect(delivered()).toEqual(['31']);
  });

  it('reset --to on a date cursor with lookback: after the day again, nothing at or before it', async () => {
    await createTable('day_to');
    await sql(`INSERT INTO day_to (id, day, email) SELECT i, current_date - (i % 5), 't' || i || '@example.com' FROM generate_series(1, 50) i`);
    writeSync('day_to', { cursor: 'day', lookback: '3d' });
    expect((await run('day_to')).summary).toMatchObject({ processed: 50 });
    world.fake.reset();
    const to = await withClient(world.dbUrl, async (c) => (await c.query<{ d: string }>("SELECT (current_date - 2)::text AS d")).rows[0]!.d);
    expect((await cli(['reset', 'day_to', '--to', to])).code).toBe(0);
    await run('day_to');
    // Days -1 and 0: keys with i % 5 in {0, 1}.
    expect(delivered()).toEqual(range(1, 50).filter((id) => Number(id) % 5 <= 1));
    world.fake.reset();
    await run('day_to');
    expect(delivered()).toEqual([]);
    // A row landing late on the reset day itself is at the value: not sent (and not lost later either: the window starts after it).
    await sql(`INSERT INTO day_to (id, day, email) VALUES (200, current_date - 2, 't200@example.com'), (201, current_date - 1, 't201@example.com')`);
    await run('day_to');
    expect(delivered()).toEqual(['201']);
  });
});

describe('preview shows what the next run sends', () => {
  it('with lookback, event_id on a non-key column repeating across runs, and rejects fixed later', async () => {
    await createTable('mirror');
    await sql(`INSERT INTO mirror (id, updated_at, ref, email) SELECT i, now() - (60 - i) * interval '1 minute', 'o' || (i % 15), 'm' || i || '@example.com'
      FROM generate_series(1, 30) i`);
    await sql(`UPDATE mirror SET email = NULL WHERE id IN (3, 4)`);
    writeSync('mirror', { cursor: 'updated_at', lookback: '3h', eventId: 'ref' });
    const first = await run('mirror');
    // 15 distinct refs among 30 rows; 3 and 4 rejected for their email, so refs o3 and o4 go out with rows 18 and 19.
    expect(first.summary).toMatchObject({ processed: 15, rejected_local: 15 });
    world.fake.reset();
    // Late rows inside the window: a new ref, a repeat of a delivered ref, a repeat among themselves; one reject fixed.
    await sql(`INSERT INTO mirror (id, updated_at, ref, email) VALUES
      (100, now() - interval '30 minutes', 'o100', 'm100@example.com'),
      (101, now() - interval '29 minutes', 'o1', 'm101@example.com'),
      (102, now() - interval '28 minutes', 'o102', 'm102@example.com'),
      (103, now() - interval '27 minutes', 'o102', 'm103@example.com')`);
    await sql(`UPDATE mirror SET email = 'm3@example.com' WHERE id = 3`);
    const preview = await cli(['preview', 'mirror']);
    expect(preview.code).not.toBe(1);
    const previewed = preview.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).event_id as string).sort();
    const second = await run('mirror');
    expect(second.result.code).not.toBe(1);
    expect([...world.fake.delivered.keys()].sort()).toEqual(previewed);
    expect(world.fake.duplicates()).toEqual([]);
  });
});

describe('reset --to values the warehouse cannot take', () => {
  it('refuses a day that does not exist (2026-02-29, 04-31) before writing anything, so no run fails on it', async () => {
    await createTable('bad_day');
    await sql(`INSERT INTO bad_day (id, day, updated_at, email) VALUES (1, current_date, now() - interval '1 minute', 'x1@example.com')`);
    writeSync('bad_day', { cursor: 'day' });
    expect((await run('bad_day')).summary).toMatchObject({ processed: 1 });
    const before = JSON.parse((await cli(['status', 'bad_day', '--json'])).stdout)[0].checkpoint;
    for (const value of ['2026-02-29', '2026-04-31']) {
      const reset = await cli(['reset', 'bad_day', '--to', value]);
      expect(reset.code).toBe(2);
      expect(reset.stderr).toContain(`--to '${value}' is not a value of day (date)`);
    }
    expect(JSON.parse((await cli(['status', 'bad_day', '--json'])).stdout)[0].checkpoint).toEqual(before);
    // Years before 100 are real days too (the start of a table, .NET's DateTime.MinValue).
    expect((await cli(['reset', 'bad_day', '--to', '0001-01-01'])).code).toBe(0);
    writeSync('bad_day', { cursor: 'updated_at' });
    const reset = await cli(['reset', 'bad_day', '--to', '2026-02-30 10:00:00']);
    expect(reset.code).toBe(2);
    expect((await run('bad_day')).result.code).toBe(0);
  });
});

describe('reset --to a time that names its zone', () => {
  it('means that instant on a timestamp without time zone too (read as UTC, like every cursor)', async () => {
    await createTable('zoned_to');
    await sql(`INSERT INTO zoned_to (id, naive, email) SELECT i, timestamp '2026-11-30 12:00:00' + i * interval '1 minute', 'z' || i || '@example.com'
      FROM generate_series(1, 30) i`);
    writeSync('zoned_to', { cursor: 'naive' });
    expect((await run('zoned_to')).summary).toMatchObject({ processed: 30 });
    world.fake.reset();
    // 17:10 at +05:00 is 12:10 UTC: rows 11 to 30 are after it.
    const reset = await cli(['reset', 'zoned_to', '--to', '2026-11-30 17:10:00+05:00']);
    expect(reset.code).toBe(0);
    await run('zoned_to');
    expect(delivered()).toEqual(range(11, 30));
  });
});

describe('DuckDB cursors finer and coarser than milliseconds', () => {
  for (const type of ['TIMESTAMP_NS', 'TIMESTAMP_S']) {
    it(`${type} with lookback: each row once, late rows caught`, async () => {
      const name = `duck_${type.toLowerCase()}`;
      const csv = path.join(world.work, 'syncs', `${name}.csv`);
      const stamp = (minutesAgo: number, ns: string) => `${new Date(Date.now() - minutesAgo * 60_000).toISOString().slice(0, 19).replace('T', ' ')}.${ns}`;
      const rows = (from: number, to: number, minutesAgo: (i: number) => number) =>
        Array.from({ length: to - from + 1 }, (_, k) => from + k).map((i) => `${i},${stamp(minutesAgo(i), String(123456789 + i).slice(0, 9))},d${i}@example.com`);
      const write = (lines: string[]) => writeFileSync(csv, `id,ts,email\n${lines.join('\n')}\n`);
      // Pairs of rows share a second, and differ below the millisecond.
      let lines = rows(1, 40, (i) => 60 - Math.floor(i / 2));
      write(lines);
      writeFileSync(path.join(world.work, 'syncs', `${name}.yaml`), [
        'version: 1', 'source:', '  type: duckdb',
        `  query: "SELECT id, CAST(ts AS ${type}) AS ts, email FROM read_csv('${name}.csv', types = {'ts': 'VARCHAR'})"`,
        '  primary_key: id', '  cursor: ts', '  lookback: 3h',
        'destination:', '  ad_account_id: ${PINTEREST_AD_ACCOUNT_ID}', '  access_token: ${PINTEREST_ACCESS_TOKEN}', '  batch_size: 7', '  max_retry_time: 2s',
        'match:', '  em: email', 'mappings:', '  event_name: { value: checkout }', '  action_source: { value: web }', '  event_time: ts', '',
      ].join('\n'));
      const first = await run(name);
      expect(first.result.stderr).toBe('');
      expect(first.summary).toMatchObject({ processed: 40 });
      expect((await run(name)).summary).toMatchObject({ processed: 0, already_delivered: 40 });
      lines = [...lines, ...rows(41, 42, () => 45), ...rows(43, 43, () => 0)];
      write(lines);
      world.fake.reset();
      await run(name);
      expect(delivered()).toEqual(['41', '42', '43']);
      world.fake.reset();
      expect((await run(name)).summary).toMatchObject({ processed: 0 });
    });
  }
});

describe('reset --to an integer the column cannot hold', () => {
  it('is refused, so no run fails casting it', async () => {
    await createTable('big_to');
    await sql(`INSERT INTO big_to (id, version, email) SELECT i, i, 'v' || i || '@example.com' FROM generate_series(1, 5) i`);
    writeSync('big_to', { cursor: 'version' });
    expect((await run('big_to')).summary).toMatchObject({ processed: 5 });
    const reset = await cli(['reset', 'big_to', '--to', '99999999999999999999']);
    expect(reset.code).toBe(2);
    expect(reset.stderr).toContain("--to '99999999999999999999' is not a value of version (bigint)");
    expect((await cli(['reset', 'big_to', '--to', '-9223372036854775808'])).code).toBe(0);
    world.fake.reset();
    expect((await run('big_to')).result.code).toBe(0);
    expect(delivered()).toEqual(['1', '2', '3', '4', '5']);
  });
});

describe('killed with batches in flight', () => {
  it('lookback, concurrency 3, event_id repeats: after SIGKILL, each event_id once more at most for what was in flight', async () => {
    await createTable('kill_lb');
    // Every 50th row repeats the event_id of the row before it (ref), across batch boundaries.
    await sql(`INSERT INTO kill_lb (id, updated_at, ref, email) SELECT i, now() - interval '2 hours' + i * interval '1 second',
      'r' || CASE WHEN i % 50 = 0 THEN i - 1 ELSE i END, 'k' || i || '@example.com' FROM generate_series(1, 800) i`);
    writeSync('kill_lb', { cursor: 'updated_at', lookback: '3h', concurrency: 3, eventId: 'ref' });
    world.fake.latencyMs = 30;
    const victim = start(['run', 'kill_lb']);
    await world.fake.deliveredAtLeast(300, victim.done);
    victim.child.kill('SIGKILL');
    await victim.done;
    await world.fake.idle();
    world.fake.latencyMs = 0;
    const counts = new Map(world.fake.delivered);
    world.fake.delivered.clear();
    const second = await run('kill_lb');
    expect(second.result.code).toBe(0);
    for (const [id, n] of world.fake.delivered) counts.set(id, (counts.get(id) ?? 0) + n);
    const expected = range(1, 800).filter((i) => Number(i) % 50 !== 0).map((i) => `r${i}`).sort();
    expect([...counts.keys()].sort()).toEqual(expected);
    const twice = [...counts].filter(([, n]) => n > 1);
    expect(twice.length).toBeLessThanOrEqual(60);
    expect(twice.every(([, n]) => n === 2)).toBe(true);
    world.fake.reset();
    const third = await run('kill_lb');
    expect(third.summary).toMatchObject({ processed: 0, rejected_local: 0, already_delivered: 800 });
    expect(world.fake.requests).toBe(0);
  });
});

describe('reset --to without a cursor', () => {
  it('the runs after it never resend the rows at or before the value, and send those after it once', async () => {
    await createTable('nocursor_to');
    await sql(`INSERT INTO nocursor_to (id, email) SELECT i, CASE WHEN i = 8 THEN NULL ELSE 'n' || i || '@example.com' END FROM generate_series(1, 10) i`);
    writeSync('nocursor_to');
    expect((await run('nocursor_to')).summary).toMatchObject({ processed: 9, rejected_local: 1 });
    world.fake.reset();
    expect((await cli(['reset', 'nocursor_to', '--to', '5'])).code).toBe(0);
    const next = await run('nocursor_to');
    expect(delivered()).toEqual(['6', '7', '9', '10']);
    expect(next.summary).toMatchObject({ rejected_local: 1 });
    world.fake.reset();
    // "nothing at or before it": not in the next run, nor in the one after.
    expect((await run('nocursor_to')).summary).toMatchObject({ rows_read: 10, already_delivered: 10, processed: 0, rejected_local: 0 });
    expect(delivered()).toEqual([]);
  });
});

describe('a batch that fails on every run, at concurrency 3', () => {
  it('the batches in flight behind it are delivered once, not once more by each failing run', async () => {
    await createTable('stuck');
    await sql(`INSERT INTO stuck (id, updated_at, email) SELECT i, now() - interval '1 hour' + i * interval '1 second', 's' || i || '@example.com'
      FROM generate_series(1, 100) i`);
    // The first, middle and last events of the first batch are refused alone too: the run fails on it.
    for (const id of ['1', '11', '20']) world.fake.badRequestEvents.add(id);
    writeSync('stuck', { cursor: 'updated_at', concurrency: 3 });
    for (let i = 0; i < 3; i++) expect((await run('stuck')).result.code).toBe(1);
    // Batches 2 and 3 went out with batch 1 on the first run; the next runs retried batch 1 alone.
    expect(Math.max(...range(21, 60).map((id) => world.fake.delivered.get(id) ?? 0))).toBe(1);
    // Once the data is fixed, everything is delivered, the batches behind it resent once at most.
    world.fake.badRequestEvents.clear();
    const fixed = await run('stuck');
    expect(fixed.result.code).toBe(0);
    expect([...world.fake.delivered.keys()].sort((a, b) => Number(a) - Number(b))).toEqual(range(1, 100));
    expect(Math.max(...world.fake.delivered.values())).toBeLessThanOrEqual(2);
  });
});

describe('the reject rate, when runs re-read settled rows', () => {
  it('is the share of the rows a run settles: rows re-read without a cursor do not water it down', async () => {
    await createTable('diluted');
    await sql(`INSERT INTO diluted (id, email) SELECT i, 'd' || i || '@example.com' FROM generate_series(1, 1000) i`);
    writeSync('diluted', { batchSize: 500 });
    expect((await run('diluted')).result.code).toBe(0);
    // Upstream lost the email column's values: every new row is rejected.
    await sql(`INSERT INTO diluted (id, email) SELECT i, NULL FROM generate_series(1001, 1020) i`);
    const preview = await cli(['preview', 'diluted']);
    expect(preview.code).toBe(3);
    const { result, summary } = await run('diluted');
    expect(summary).toMatchObject({ rows_read: 1020, already_delivered: 1000, rejected_local: 20, outcome: 'rejects_exceeded' });
    expect(result.code).toBe(3);
  });
});

describe('sentinel minimum dates (0001-01-01, .NET DateTime.MinValue)', () => {
  it('a checkpoint on 0001-01-01 does not wedge a date cursor with lookback', async () => {
    await createTable('min_day');
    await sql(`INSERT INTO min_day (id, day, updated_at, email) SELECT i, '0001-01-01', '0001-01-01 00:00:00+00', 'm' || i || '@example.com' FROM generate_series(1, 3) i`);
    writeSync('min_day', { cursor: 'day', lookback: '2d' });
    expect((await run('min_day')).summary).toMatchObject({ processed: 3 });
    await sql(`INSERT INTO min_day (id, day, updated_at, email) VALUES (4, current_date, now() - interval '1 minute', 'm4@example.com')`);
    world.fake.reset();
    const second = await run('min_day');
    expect(second.result.stderr).toBe('');
    expect(delivered()).toEqual(['4']);
    world.fake.reset();
    expect((await run('min_day')).summary).toMatchObject({ processed: 0 });
    // A timestamp cursor with lookback, from the same sentinel rows.
    writeSync('min_day', { cursor: 'updated_at', lookback: '3h' });
    expect((await cli(['reset', 'min_day'])).code).toBe(0);
    await sql(`DELETE FROM min_day WHERE id = 4`);
    expect((await run('min_day')).summary).toMatchObject({ processed: 3 });
    await sql(`INSERT INTO min_day (id, day, updated_at, email) VALUES (5, current_date, now() - interval '1 minute', 'm5@example.com')`);
    world.fake.reset();
    expect((await run('min_day')).result.stderr).toBe('');
    expect(delivered()).toEqual(['5']);
  });
});
