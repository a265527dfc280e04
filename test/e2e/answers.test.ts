// Answers that must never count as delivered, or block a sync for ever: the built CLI against
// a real PostgreSQL and the fake Pinterest on 127.0.0.1, each case on a table of its own.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BIN, runCli, type CliResult } from '../helpers/cli.js';
import { FakePinterest } from '../helpers/fake-pinterest.js';
import { freshDatabase, withClient } from '../helpers/pg.js';

let work: string;
let dbUrl: string;
let fake: FakePinterest;

/** A table of `rows` orders, ids 1..rows, and a sync file for it named `name`. */
async function scenario(name: string, rows: number, destination: string[] = [], options: string[] = []): Promise<string[]> {
  await withClient(dbUrl, (c) => c.query(`CREATE TABLE ${name} (
    order_id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, completed_at timestamptz, email text, note text);
    INSERT INTO ${name} SELECT i, clock_timestamp() - interval '1 minute' + i * interval '1 microsecond', now() - interval '1 hour',
      'user' || i || '@example.com', NULL FROM generate_series(1, ${rows}) AS i`));
  writeFileSync(path.join(work, 'syncs', `${name}.yaml`), `version: 1
name: ${name}
source:
  type: postgres
  url: \${WAREHOUSE_URL}
  table: ${name}
  primary_key: order_id
  cursor: updated_at
destination:
  ad_account_id: \${PINTEREST_AD_ACCOUNT_ID}
  access_token: \${PINTEREST_ACCESS_TOKEN}
  batch_size: 100
  concurrency: 2
${destination.map((l) => `  ${l}\n`).join('')}match:
  em: email
mappings:
  event_name: { value: checkout }
  action_source: { value: web }
  event_time: completed_at
  custom_data.content_name: note
options:
  max_reject_rate: 0.5
${options.map((l) => `  ${l}\n`).join('')}`);
  return Array.from({ length: rows }, (_, i) => String(i + 1));
}

const env = (): Record<string, string> => ({
  WAREHOUSE_URL: dbUrl, PINTEREST_API_URL: fake.url, PINTEREST_AD_ACCOUNT_ID: fake.adAccountId, PINTEREST_ACCESS_TOKEN: fake.token,
  PINSYNC_STATE: path.join(work, 'state.db'),
});

/** `pinsync run NAME --json`, killed after `limitMs` (a run that hangs fails the test, not the suite). */
function run(name: string, limitMs = 25_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'run', `syncs/${name}.yaml`, '--json'], { cwd: work, env: { ...process.env, ...env() } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const summaryOf = (result: CliResult) => JSON.parse(result.stdout) as Record<string, unknown>;
const rejectsOf = async (name: string) => {
  const result = await runCli(['status', name, '--json'], { cwd: work, env: env() });
  return (JSON.parse(result.stdout)[0] as { last_run_rejects: { primary_key: string; stage: string; reason: string }[] }).last_run_rejects;
};

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'pinsync-answers-'));
  mkdirSync(path.join(work, 'syncs'));
  dbUrl = await freshDatabase('answers_e2e');
  fake = await new FakePinterest().start();
});

afterAll(async () => {
  await fake.stop();
  rmSync(work, { recursive: true, force: true });
});

beforeEach(() => fake.reset());

describe('answers that settle nothing', () => {
  it('retries a 200 whose events list leaves one out, though its counts say all were processed', async () => {
    const ids = await scenario('short_answer', 250);
    // Once: Pinterest lost the batch's last event, and answers for the others only.
    fake.mangle = (body) => {
      fake.mangle = undefined;
      const lost = (JSON.parse(fake.bodies.at(-1)!) as { data: { event_id: string }[] }).data.at(-1)!.event_id;
      fake.delivered.delete(lost);
      return { ...body, events: body.events.slice(0, -1) };
    };
    const result = await run('short_answer');
    expect(result.code).toBe(0);
    expect(summaryOf(result)).toMatchObject({ processed: 250, rejected_pinterest: 0 });
    expect([...fake.delivered.keys()].sort()).toEqual([...ids].sort());
    const again = await run('short_answer');
    expect(summaryOf(again)).toMatchObject({ rows_read: 0, events_sent: 0 });
  });

  it('fails the run when every answer leaves an event out, and the next run delivers what it held', async () => {
    const ids = await scenario('always_short', 100, ['max_retry_time: 2s']);
    fake.mangle = (body) => ({ ...body, events: body.events.slice(1) });
    const failed = await run('always_short');
    expect(failed.code).toBe(1);
    expect(summaryOf(failed).error).toMatch(/Pinterest kept failing for \d+s \(last: 200 without a result for every event \(99 results for 100 events\)\)/);
    expect(summaryOf(failed)).toMatchObject({ processed: 0, rejected_pinterest: 0, checkpoint: null });
    fake.mangle = undefined;
    fake.delivered.clear();
    const next = await run('always_short');
    expect(next.code).toBe(0);
    expect([...fake.delivered.keys()].sort()).toEqual([...ids].sort());
    expect(fake.duplicates()).toEqual([]);
  });
});

describe('events too large', () => {
  it('records an event Pinterest refuses with 413 even alone as a reject, and the run goes on', async () => {
    const ids = await scenario('too_large', 300);
    fake.tooLargeEvents.add('137');
    const result = await run('too_large');
    expect(result.code).toBe(0);
    expect(summaryOf(result)).toMatchObject({ processed: 299, rejected_pinterest: 1, rejects_by_reason: { 'pinterest: 413: Request entity too large.': 1 } });
    expect([...fake.delivered.keys()].sort()).toEqual(ids.filter((id) => id !== '137').sort());
    expect(fake.duplicates()).toEqual([]);
    expect((await rejectsOf('too_large')).filter((r) => r.stage === 'pinterest')).toEqual([
      { primary_key: '137', event_id: '137', stage: 'pinterest', reason: '413: Request entity too large.' },
    ]);
    fake.reset();
    const again = await run('too_large');
    expect(summaryOf(again)).toMatchObject({ rows_read: 0, events_sent: 0 });
    expect(fake.requests).toBe(0);
  });

  it('rejects locally an event whose JSON is larger than 64 KiB, and sends the others', async () => {
    const ids = await scenario('huge_event', 120);
    await withClient(dbUrl, (c) => c.query("UPDATE huge_event SET note = repeat('n', 70000) WHERE order_id IN (5, 77)"));
    // The preview shows what the run will do.
    const preview = await runCli(['preview', 'syncs/huge_event.yaml'], { cwd: work, env: env() });
    expect(preview.stderr).toMatch(/^5: event: larger than 64 KiB as JSON \(too large to send\) \(\d+ bytes\)$/m);
    expect(preview.stderr).toContain('events 118, rejected 2');
    const result = await run('huge_event');
    expect(result.code).toBe(0);
    expect(summaryOf(result)).toMatchObject({ processed: 118, rejected_local: 2, rejected_pinterest: 0 });
    expect([...fake.delivered.keys()].sort()).toEqual(ids.filter((id) => id !== '5' && id !== '77').sort());
    const local = (await rejectsOf('huge_event')).filter((r) => r.stage === 'local');
    expect(local.map((r) => r.primary_key)).toEqual(['5', '77']);
    expect(local[0]!.reason).toMatch(/^event: larger than 64 KiB as JSON \(too large to send\) \(\d+ bytes\)$/);
    expect(fake.bodies.every((b) => !b.includes('nnnnnnnnnn'))).toBe(true);
  });
});

describe('answers that would block a sync', () => {
  it('cuts a drip-fed answer at destination.timeout, fails within max_retry_time, and frees the sync for the next run', async () => {
    const ids = await scenario('drip', 50, ['timeout: 1s', 'max_retry_time: 3s']);
    fake.always = { status: 200, dripMs: 200 };
    const started = Date.now();
    const failed = await run('drip');
    expect(failed.code).toBe(1);
    // Generous: without a bound on the whole answer, the run would drip on for ever.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(summaryOf(failed).error).toMatch(/Pinterest kept failing for \d+s \(last: network error: no answer (within 1s \(destination.timeout\)|before destination.max_retry_time \(3s\) ran out)\)/);
    fake.always = undefined;
    await fake.idle();
    // The lease went with the run: the next one is not locked out (exit 4), and delivers.
    const next = await run('drip');
    expect(next.code).toBe(0);
    expect([...fake.delivered.keys()].sort()).toEqual([...ids].sort());
  });

  it('fails at once, in a few requests, when Pinterest refuses every event of a batch with 400', async () => {
    const ids = await scenario('all_refused', 100);
    fake.always = { status: 400, body: { code: 4196, message: 'The request was invalid.' } };
    const failed = await run('all_refused');
    expect(failed.code).toBe(1);
    expect(fake.requests).toBeLessThanOrEqual(4);
    expect(summaryOf(failed).error).toMatch(/refused a batch of 100 events with 400 \(The request was invalid\.\), and each of 3 of its events sent alone/);
    expect(summaryOf(failed)).toMatchObject({ processed: 0, rejected_pinterest: 0 });
    fake.always = undefined;
    const next = await run('all_refused');
    expect(next.code).toBe(0);
    expect([...fake.delivered.keys()].sort()).toEqual([...ids].sort());
    expect(fake.duplicates()).toEqual([]);
  });

  it('still isolates bad events that are many but not all, and records each as a reject', async () => {
    const ids = await scenario('many_refused', 100);
    const bad = ids.filter((id) => Number(id) % 7 === 1);
    for (const id of bad) fake.badRequestEvents.add(id);
    const result = await run('many_refused');
    expect(result.code).toBe(0);
    expect(summaryOf(result)).toMatchObject({ processed: 100 - bad.length, rejected_pinterest: bad.length });
    expect([...fake.delivered.keys()].sort()).toEqual(ids.filter((id) => !bad.includes(id)).sort());
    expect(fake.duplicates()).toEqual([]);
    fake.delivered.clear();
    expect(summaryOf(await run('many_refused'))).toMatchObject({ rows_read: 0 });
  });

  it('says Pinterest asked to wait longer than max_retry_time allows, and the next run delivers', async () => {
    const ids = await scenario('retry_after', 30);
    fake.script.push({ status: 429, retryAfter: '86400' });
    const started = Date.now();
    const failed = await run('retry_after');
    expect(failed.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(summaryOf(failed).error).toBe('Pinterest asked to wait 86400s (Retry-After, after 429: scripted 429), longer than destination.max_retry_time (10m) allows; the run stopped and the next run resends this batch');
    expect(failed.stderr).toContain('Pinterest asked to wait 86400s');
    const next = await run('retry_after');
    expect(next.code).toBe(0);
    expect([...fake.delivered.keys()].sort()).toEqual([...ids].sort());
  });
});
