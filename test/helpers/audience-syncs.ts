// Audience syncs end to end: a PostgreSQL table of customers, its sync file, the fake Pinterest
// (which keeps each customer list's members), and what the tests read back from each.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { runCli, startCli, type CliResult } from './cli.js';
import { FakePinterest, type LoggedListRequest } from './fake-pinterest.js';
import { freshDatabase, withClient } from './pg.js';

export interface AudienceShape {
  /** destination.customer_list's name (default: the sync's name). */
  listName?: string;
  /** destination.audience's name, when the sync asks for one. */
  audience?: string;
  recordsPerRequest?: number;
  maxRemovalRate?: number;
  maxRejectRate?: number;
  maxRetryTime?: string;
  timeout?: string;
}

/** The digest Pinterest receives for an email: trimmed, lowercased, SHA-256 in lowercase hex. */
export const digestOf = (email: string): string => createHash('sha256').update(email.trim().toLowerCase()).digest('hex');

/** An email as a warehouse may hold it (mixed case, spaces around), for customer `id`. */
export const rawEmail = (id: number): string => ` Customer${id}@Example.COM `;

/** Writes syncs/<name>.yaml reading the table of that name; returns its path relative to `work`. */
export function writeAudienceSync(work: string, name: string, shape: AudienceShape = {}): string {
  const lines = [
    'version: 1',
    `name: ${name}`,
    'kind: audience',
    'source:',
    '  type: postgres',
    '  url: ${WAREHOUSE_URL}',
    `  table: ${name}`,
    '  primary_key: customer_id',
    'destination:',
    '  ad_account_id: ${PINTEREST_AD_ACCOUNT_ID}',
    '  access_token: ${PINTEREST_ACCESS_TOKEN}',
    `  customer_list: { name: ${shape.listName ?? name} }`,
    ...(shape.audience ? [`  audience: { name: ${shape.audience} }`] : []),
    `  records_per_request: ${shape.recordsPerRequest ?? 50}`,
    // The default ads_write budget (300 a minute) would space a test's requests 200 ms apart.
    '  max_requests_per_minute: 6000',
    `  max_retry_time: ${shape.maxRetryTime ?? '10s'}`,
    ...(shape.timeout ? [`  timeout: ${shape.timeout}`] : []),
    'match:',
    '  em: email',
    'options:',
    `  max_removal_rate: ${shape.maxRemovalRate ?? 0.3}`,
    ...(shape.maxRejectRate !== undefined ? [`  max_reject_rate: ${shape.maxRejectRate}`] : []),
  ];
  const file = path.join('syncs', `${name}.yaml`);
  writeFileSync(path.join(work, file), `${lines.join('\n')}\n`);
  return file;
}

export interface AudienceWorld {
  work: string;
  dbUrl: string;
  fake: FakePinterest;
  /** When the fake logged each customer-list or audience request (performance.now(), in this process). */
  arrivedAt: WeakMap<LoggedListRequest, number>;
}

/** Records: the digests one logged create or update carried. */
export const recordsOf = (request: LoggedListRequest): string[] =>
  String((request.body as { records?: string } | undefined)?.records ?? '').split(',').filter((r) => r.length > 0);

/**
 * A folder with syncs/, a fresh database, the fake Pinterest (not reset between tests: the tests
 * of one describe share a list), and the helpers the tests use on them.
 */
export function audienceHarness(database: string) {
  const world = { arrivedAt: new WeakMap() } as AudienceWorld;
  beforeAll(async () => {
    world.dbUrl = await freshDatabase(database);
    world.fake = await new FakePinterest().start();
    // The fake's log keeps no times: stamp each entry as it is pushed (reset() keeps the array).
    const log = world.fake.listLog;
    const push = log.push.bind(log);
    log.push = (...entries: LoggedListRequest[]) => {
      for (const entry of entries) world.arrivedAt.set(entry, performance.now());
      return push(...entries);
    };
    world.work = mkdtempSync(path.join(tmpdir(), `pinsync-${database}-`));
    mkdirSync(path.join(world.work, 'syncs'));
  });
  afterAll(async () => {
    await world.fake?.stop();
    if (world.work) rmSync(world.work, { recursive: true, force: true });
  });

  const statePath = () => path.join(world.work, 'state.db');
  const sql = async (text: string, values: unknown[] = []): Promise<void> => {
    await withClient(world.dbUrl, (c) => c.query(text, values));
  };
  const env = (extra: Record<string, string> = {}) => ({
    WAREHOUSE_URL: world.dbUrl, PINTEREST_API_URL: world.fake.url, PINTEREST_AD_ACCOUNT_ID: world.fake.adAccountId,
    PINTEREST_ACCESS_TOKEN: world.fake.oauthToken, PINSYNC_STATE: statePath(), ...extra,
  });
  const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => runCli(args, { cwd: world.work, env: env(extra) });
  const writes = () => world.fake.listLog.filter((r) => r.endpoint === 'customer_lists/create' || r.endpoint === 'customer_lists/update');

  return {
    world,
    sql,
    env,
    cli,
    start: (args: string[], extra: Record<string, string> = {}) => startCli(args, { cwd: world.work, env: env(extra) }),
    writeSync: (name: string, shape: AudienceShape = {}) => writeAudienceSync(world.work, name, shape),
    /** A table of customers `from`..`to`, their emails as rawEmail() writes them. */
    createTable: async (name: string, from: number, to: number) => {
      await sql(`CREATE TABLE ${name} (customer_id bigint PRIMARY KEY, email text)`);
      await addCustomers(name, from, to);
    },
    addCustomers: (name: string, from: number, to: number) => addCustomers(name, from, to),
    /** The digests of the table's emails: what the list must hold (rows without a usable email left out). */
    expected: async (name: string): Promise<Set<string>> => {
      const rows = await withClient(world.dbUrl, (c) => c.query<{ email: string | null }>(`SELECT email FROM ${name}`));
      return new Set(rows.rows.map((r) => r.email).filter((e): e is string => e !== null && e.includes('@')).map(digestOf));
    },
    run: async (name: string, flags: string[] = [], extra: Record<string, string> = {}) => {
      const result = await cli(['run', name, '--json', ...flags], extra);
      return { result, summary: (result.stdout.trim() ? JSON.parse(result.stdout) : {}) as Record<string, unknown> & { audience: Record<string, unknown> } };
    },
    status: async (name: string) => JSON.parse((await cli(['status', name, '--json'])).stdout)[0] as Record<string, unknown> & {
      audience: Record<string, unknown> & { pinterest: Record<string, unknown> | null };
      last_run: Record<string, unknown>;
      runs: Record<string, unknown>[];
    },
    /** The ad account's customer list of that name (it must be the only one). */
    listNamed: (name: string) => {
      const lists = world.fake.lists().filter((l) => l.name === name);
      if (lists.length !== 1) throw new Error(`the fake has ${lists.length} customer lists named '${name}'`);
      return lists[0]!;
    },
    writes,
    /** Creates and updates of one operation ('ADD' counts creates), with their records. */
    sent: (operation: 'ADD' | 'REMOVE', from = 0) => writes().slice(from).filter((r) =>
      operation === 'ADD' ? r.endpoint === 'customer_lists/create' || (r.body as { operation_type?: string }).operation_type === 'ADD'
        : (r.body as { operation_type?: string }).operation_type === 'REMOVE'),
    /** The state store's bytes (and its write-ahead log's), as text. */
    stateBytes: (): string => ['', '-wal', '-journal'].map((suffix) => statePath() + suffix).filter((f) => existsSync(f))
      .map((f) => readFileSync(f).toString('latin1')).join('\n'),
  };

  async function addCustomers(name: string, from: number, to: number): Promise<void> {
    const ids = Array.from({ length: to - from + 1 }, (_, i) => from + i);
    await sql(`INSERT INTO ${name} (customer_id, email) SELECT * FROM unnest($1::bigint[], $2::text[])`, [ids, ids.map(rawEmail)]);
  }
}
