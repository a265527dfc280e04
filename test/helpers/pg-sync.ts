// Sync files of PostgreSQL tables, and the set-up of end-to-end suites that try many shapes of one sync.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { runCli, type CliResult } from './cli.js';
import { FakePinterest } from './fake-pinterest.js';
import { freshDatabase, withClient } from './pg.js';

export interface PgSyncShape {
  primaryKey?: string;
  cursor?: string;
  lookback?: string;
  /** source.url as written (default ${WAREHOUSE_URL}). */
  url?: string;
  batchSize?: number;
  concurrency?: number;
  eventId?: string;
}

/** Writes syncs/<table>.yaml under `work`, reading that table; returns its path relative to `work`. */
export function writePgSync(work: string, table: string, shape: PgSyncShape = {}): string {
  const lines = [
    'version: 1',
    'source:',
    '  type: postgres',
    `  url: ${shape.url ?? '${WAREHOUSE_URL}'}`,
    `  table: ${table}`,
    `  primary_key: ${shape.primaryKey ?? 'id'}`,
    ...(shape.cursor ? [`  cursor: ${shape.cursor}`] : []),
    ...(shape.lookback ? [`  lookback: ${shape.lookback}`] : []),
    'destination:',
    '  ad_account_id: ${PINTEREST_AD_ACCOUNT_ID}',
    '  access_token: ${PINTEREST_ACCESS_TOKEN}',
    `  batch_size: ${shape.batchSize ?? 20}`,
    ...(shape.concurrency ? [`  concurrency: ${shape.concurrency}`] : []),
    '  max_retry_time: 2s',
    'match:',
    '  em: email',
    'mappings:',
    '  event_name: { value: checkout }',
    '  action_source: { value: web }',
    '  event_time: created_at',
    ...(shape.eventId ? [`  event_id: ${shape.eventId}`] : []),
  ];
  const file = path.join('syncs', `${table}.yaml`);
  writeFileSync(path.join(work, file), `${lines.join('\n')}\n`);
  return file;
}

/** What a harness's tests share: a folder with syncs/, a fresh database, the fake Pinterest. */
export interface PgSyncWorld {
  work: string;
  dbUrl: string;
  fake: FakePinterest;
}

export type RunResult = { result: CliResult; summary: Record<string, unknown> };

/**
 * Sets up, for the calling test file, a folder, a fresh PostgreSQL database and the fake
 * Pinterest, and the helpers its tests use on them; `defaults` apply to every sync file written.
 */
export function pgSyncHarness(database: string, defaults: PgSyncShape = {}) {
  const world = {} as PgSyncWorld;
  beforeAll(async () => {
    world.dbUrl = await freshDatabase(database);
    world.fake = await new FakePinterest().start();
    world.work = mkdtempSync(path.join(tmpdir(), `pinsync-${database}-`));
    mkdirSync(path.join(world.work, 'syncs'));
  });
  afterAll(async () => {
    await world.fake.stop();
    rmSync(world.work, { recursive: true, force: true });
  });
  beforeEach(() => world.fake.reset());

  const sql = async (text: string, values: unknown[] = []): Promise<void> => {
    await withClient(world.dbUrl, (c) => c.query(text, values));
  };
  const env = (extra: Record<string, string> = {}) => ({
    WAREHOUSE_URL: world.dbUrl, PINTEREST_API_URL: world.fake.url, PINTEREST_AD_ACCOUNT_ID: world.fake.adAccountId,
    PINTEREST_ACCESS_TOKEN: world.fake.token, PINSYNC_STATE: path.join(world.work, 'state.db'), ...extra,
  });
  const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { cwd: world.work, env: env(extra) });
  return {
    world,
    sql,
    env,
    cli,
    writeSync: (table: string, shape: PgSyncShape = {}): string => writePgSync(world.work, table, { ...defaults, ...shape }),
    /** A table with every column the tests' syncs read. */
    createTable: (name: string) => sql(`CREATE TABLE ${name} (id bigint, status text, updated_at timestamptz, naive timestamp, day date, label text,
      version bigint, ref text, email text, created_at timestamptz NOT NULL DEFAULT now() - interval '1 minute')`),
    run: async (name: string): Promise<RunResult> => {
      const result = await cli(['run', name, '--json']);
      return { result, summary: result.stdout.trim() ? JSON.parse(result.stdout) : {} };
    },
    status: async (name: string): Promise<Record<string, unknown> & { checkpoint: { cursor: string; key: string } | null }> =>
      JSON.parse((await cli(['status', name, '--json'])).stdout)[0],
    /** event_ids the fake Pinterest processed, in numeric order. */
    delivered: () => [...world.fake.delivered.keys()].sort((a, b) => Number(a) - Number(b)),
  };
}

/** The numbers from..to as text, as event_ids of integer keys read. */
export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
