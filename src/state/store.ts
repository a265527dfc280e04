// Checkpoints, runs and rejects, on knex: a SQLite file by default; PostgreSQL is the
// same code with another client. Nothing stored here holds a raw identifier or a secret.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { Database, Statement } from 'better-sqlite3';
import type knexFactory from 'knex';
import type { Knex } from 'knex';
import type { Position } from '../core/types.js';
import { MIGRATIONS } from './migrations.js';
import { acquireLock, type LockOptions, type SyncLock } from './lock.js';
import { redact, redactQuoted } from '../core/redact.js';
import { PinsyncError, StateError, UsageError } from '../core/errors.js';
import { postgresUrlProblem } from '../config/postgres-url.js';

export interface Checkpoint {
  position: Position;
  updatedAt: Date;
  /** Where the sync's ledger starts being complete (rows re-read before it would be unknown); null without one. */
  ledgerSince?: Position | null;
}

export type RunOutcome = 'running' | 'succeeded' | 'failed' | 'rejects_exceeded' | 'removals_refused' | 'interrupted' | 'killed';

export interface RunCounts {
  rowsRead: number;
  /** Rows re-read (lookback, or no cursor) whose event was delivered before: not sent again. */
  alreadyDelivered: number;
  eventsSent: number;
  processed: number;
  rejectedLocal: number;
  rejectedPinterest: number;
  resent: number;
  /** Rows the sync file's `skip:` leaves out on purpose: neither sent nor rejected. */
  skipped: number;
}

export interface RunRecord extends RunCounts {
  id: number;
  /** An audience run's members added and removed (0 for an event run). */
  membersAdded: number;
  membersRemoved: number;
  sync: string;
  startedAt: Date;
  endedAt: Date | null;
  outcome: RunOutcome;
  error: string | null;
}

/** An audience sync's customer list, as the state knows it. */
export interface AudienceListRecord {
  listId: string;
  listName: string;
  listType: string;
  adAccountId: string;
  audienceId: string | null;
}

/**
 * A digest's standing: a member; an ADD or a REMOVE sent and not yet settled; or a member a run
 * has decided to remove (past the removal guard) and not yet sent.
 */
export type MemberState = 'member' | 'adding' | 'removing' | 'leaving';
const MEMBER_CODES: Record<MemberState, string> = { member: 'm', adding: 'a', removing: 'r', leaving: 'q' };
const MEMBER_STATES: Record<string, MemberState> = { m: 'member', a: 'adding', r: 'removing', q: 'leaving' };

/** A run's counts under their column names (an audience run's, which events' RunCounts do not cover). */
export interface RunColumns {
  runId: number;
  values: Record<string, number>;
}

/** One delivered event in the ledger. */
export interface LedgerEntry {
  digest: string;
  cursorMs: number | null;
}

export interface RejectRecord {
  primaryKey: string;
  eventId: string | null;
  stage: 'local' | 'pinterest';
  reason: string;
}

export const ZERO_COUNTS: Readonly<RunCounts> = { rowsRead: 0, alreadyDelivered: 0, eventsSent: 0, processed: 0, rejectedLocal: 0, rejectedPinterest: 0, resent: 0, skipped: 0 };

const isPostgres = (url: string) => /^postgres(ql)?:\/\//i.test(url);
const sqliteFile = (url: string) => url.replace(/^sqlite:(\/\/)?/i, '');

/** Where the state is, for a message: a PostgreSQL URL without its password. */
export function describeState(url: string): string {
  if (!isPostgres(url)) return sqliteFile(url);
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.username ? `${decodeURIComponent(parsed.username)}@` : ''}${parsed.host}${parsed.pathname}`;
  } catch {
    return 'the PostgreSQL state database';
  }
}

/** A driver's error as one line, with what to do about the usual causes. */
export function describeStateFailure(error: unknown): string {
  const text = (error instanceof Error ? error.message : String(error)).split('\n')[0];
  const code = (error as { code?: unknown }).code;
  const unknown = /^The migration directory is corrupt, the following files are missing: (.*)$/.exec(text ?? '');
  if (unknown) return `it was written by a newer pinsync (schema changes ${unknown[1]}): use that version of pinsync, or a later one, with this state`;
  if (text === 'timeout expired' || /^Knex: Timeout acquiring a connection/.test(text ?? '')) {
    return 'the server did not answer in time (connect_timeout=SECONDS on the URL waits longer)';
  }
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') {
    return `${text} (the file is damaged or is not a pinsync state: restore it from a copy, or move it aside to start over, which sends every row again)`;
  }
  if (code === '42501') {
    return `${text} (the role needs CREATE on the database, or USAGE and CREATE on an existing state schema, and all rights on the tables in it)`;
  }
  return text ?? '';
}

/**
 * Refuses a state location that looks like a URL of a store pinsync does not have (mysql://…
 * would otherwise become a SQLite file named `mysql:/…`). A path with a colon in it is a path.
 */
export function checkStateLocation(url: string): void {
  const problem = isPostgres(url) ? postgresUrlProblem(url) : undefined;
  if (problem) throw new UsageError(`the PostgreSQL URL ${problem}`);
  // The state's own reading of the URL (its schema, connect_timeout) needs a host in it.
  if (isPostgres(url) && !URL.canParse(url)) {
    throw new UsageError('the PostgreSQL state URL needs a host (postgres://user:password@host:5432/database); a socket directory as ?host= is not supported for the state');
  }
  if (isPostgres(url) || /^sqlite:/i.test(url)) return;
  const scheme = /^([a-z][a-z0-9+.-]*):(\/\/|$)/i.exec(url)?.[1] ?? /^(postgres(?:ql)?):/i.exec(url)?.[1];
  if (scheme !== undefined) {
    throw new UsageError(`'${scheme}:' is not a state store pinsync supports: give a file path, sqlite:PATH, or a postgres:// (postgresql://) URL`);
  }
}

/** PostgreSQL state lives in its own schema: `pinsync`, or `?schema=name` on the URL. */
function postgresSchema(url: string): { connection: string; schema: string } {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? 'pinsync';
  parsed.searchParams.delete('schema');
  return { connection: parsed.toString(), schema };
}

// knex (with lodash, tens of milliseconds to load even from its own bundle chunk) loads only
// when a state is opened: commands that need none start sooner.
async function loadKnex(): Promise<typeof knexFactory> {
  return (await import('knex')).default;
}

// knex logs with console.log, on stdout, which `--json` output owns: its warnings (each
// failed connection attempt, with a stack) say nothing the error it throws does not say.
const knexLog = (message: unknown): void => {
  if (!process.env.PINSYNC_DEBUG) return;
  const text = message instanceof Error ? message.message : String(message);
  process.stderr.write(`pinsync: state store: ${redact(text.split('\n')[0] ?? '')}\n`);
};
const KNEX_LOG: Knex.Config['log'] = { warn: knexLog, error: knexLog, deprecate: knexLog, debug: knexLog };

/**
 * A knex instance whose errors say what the database said: knex prefixes the SQL (with its
 * bound values, which can be keys or tokens) to the driver's message.
 */
function createKnex(knex: typeof knexFactory, config: Knex.Config): Knex {
  const db = knex({ ...config, compileSqlOnError: false });
  db.on('query-error', (error: Error, query: { sql?: string }) => {
    const prefix = `${query.sql} - `;
    if (query.sql && error.message.startsWith(prefix)) error.message = error.message.slice(prefix.length);
  });
  return db;
}

function connectionFor(url: string, readOnly: boolean): Knex.Config {
  if (isPostgres(url)) {
    const { connection, schema } = postgresSchema(url);
    // A server that never answers must not hold a run (or its exit) for minutes: connecting
    // gives up after connect_timeout seconds (libpq's URL parameter; default 10), and knex's
    // wait for a connection, which also covers one in use by the lease's heartbeat, soon after.
    const timeout = Number(new URL(url).searchParams.get('connect_timeout') ?? 10);
    const connectMs = Number.isFinite(timeout) && timeout > 0 ? Math.max(timeout, 2) * 1000 : 0;
    return {
      client: 'pg', connection: { connectionString: connection, connectionTimeoutMillis: connectMs }, searchPath: [schema],
      pool: { min: 0, max: 2 }, acquireConnectionTimeout: connectMs > 0 ? connectMs + 10_000 : 60_000, log: KNEX_LOG,
    };
  }
  const filename = sqliteFile(url);
  if (!readOnly && filename !== ':memory:') mkdirSync(path.dirname(path.resolve(filename)), { recursive: true });
  return {
    client: 'better-sqlite3',
    connection: { filename, options: { readonly: readOnly } },
    useNullAsDefault: true,
    log: KNEX_LOG,
    pool: {
      // WAL: readers (status, preview) never block a run, and a commit is one append. A crash
      // cannot lose a committed checkpoint; a power cut may lose the last ones, which only
      // means resending those batches.
      afterCreate: (conn: { pragma(sql: string): unknown }, done: (error: Error | null, conn: unknown) => void) => {
        if (!readOnly) {
          conn.pragma('journal_mode = WAL');
          conn.pragma('synchronous = NORMAL');
        }
        conn.pragma('busy_timeout = 5000');
        done(null, conn);
      },
    },
  };
}

// What every batch writes, twice: the lease and the unsettled count before it is sent; the
// lease, its rejects and deliveries and the checkpoint once it settles. On SQLite, the default
// store, they are statements prepared once per connection instead of knex rebuilding each one
// for every batch (docs/adr/0006-state-store.md); PostgreSQL state keeps the knex code.
const BATCH_SQL = {
  renewLease: 'UPDATE locks SET expires_at = ? WHERE sync = ? AND token = ?',
  saveUnsettled: `INSERT INTO checkpoints (sync, unsettled_events, updated_at) VALUES (?, ?, ?)
    ON CONFLICT (sync) DO UPDATE SET unsettled_events = excluded.unsettled_events`,
  savePosition: `INSERT INTO checkpoints (sync, cursor, "key", unsettled_events, updated_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (sync) DO UPDATE SET cursor = excluded.cursor, "key" = excluded."key",
      unsettled_events = excluded.unsettled_events, updated_at = excluded.updated_at`,
  insertReject: 'INSERT INTO rejects (run_id, sync, primary_key, event_id, stage, reason) VALUES (?, ?, ?, ?, ?, ?)',
  insertDelivered: 'INSERT INTO delivered (sync, digest, cursor_ms) VALUES (?, ?, ?) ON CONFLICT (sync, digest) DO NOTHING',
  saveRunCounts: `UPDATE runs SET rows_read = ?, already_delivered = ?, events_sent = ?, processed = ?, rejected_local = ?,
    rejected_pinterest = ?, resent = ?, skipped = ? WHERE id = ?`,
};
type BatchStatements = Record<keyof typeof BATCH_SQL, Statement>;
const preparedOn = new WeakMap<Database, BatchStatements>();

function batchStatements(conn: Database): BatchStatements {
  let statements = preparedOn.get(conn);
  if (!statements) {
    statements = Object.fromEntries(Object.entries(BATCH_SQL).map(([name, sql]) => [name, conn.prepare(sql)])) as BatchStatements;
    preparedOn.set(conn, statements);
  }
  return statements;
}

// PostgreSQL text cannot hold a NUL, and neither store keeps a lone UTF-16 surrogate (UTF-8
// has none): a key from DuckDB can hold either. A checkpoint is bound back into the source's
// query, so such text is stored escaped (JSON after a marker) and read back byte-identical.
// eslint-disable-next-line no-control-regex -- NUL is the very character to find
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const ESCAPED = '\u0001pinsync-json:';

const unstorable = (text: string): boolean => {
  UNSTORABLE.lastIndex = 0;
  return UNSTORABLE.test(text);
};

/** Text either store keeps exactly; `fromStorable` gives the original back. */
export function toStorable(text: string): string;
export function toStorable(text: string | null): string | null;
export function toStorable(text: string | null): string | null {
  return text !== null && (unstorable(text) || text.startsWith(ESCAPED)) ? ESCAPED + JSON.stringify(text) : text;
}

export function fromStorable(text: string | null): string | null {
  return text !== null && text.startsWith(ESCAPED) ? (JSON.parse(text.slice(ESCAPED.length)) as string) : text;
}

/** Text to show (rejects, errors): what a store cannot hold written as a \uXXXX escape. */
export function readableText(text: string): string;
export function readableText(text: string | null): string | null;
export function readableText(text: string | null): string | null {
  return text === null ? null : text.replace(UNSTORABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A state never migrated: no tables (SQLite), no table or schema (PostgreSQL). */
const missingTable = (error: Error & { code?: string }): boolean => /no such table/.test(error.message) || error.code === '42P01' || error.code === '3F000';

// SQLite hands timestamps back as epoch milliseconds, PostgreSQL as Dates.
const toDate = (v: unknown): Date => (v instanceof Date ? v : new Date(typeof v === 'number' || /^\d+$/.test(String(v)) ? Number(v) : String(v)));

/** The SQLite file as opened: a file removed or replaced since no longer receives the writes. */
interface FileIdentity {
  /** As given, for messages. */
  path: string;
  resolved: string;
  dev: number;
  ino: number;
}

function fileIdentity(url: string): FileIdentity | undefined {
  const file = sqliteFile(url);
  if (isPostgres(url) || file === ':memory:' || file === '') return undefined;
  const stat = statSync(file);
  return { path: file, resolved: path.resolve(file), dev: stat.dev, ino: stat.ino };
}

export class StateStore {
  private readonly sqlite: boolean;
  private file?: FileIdentity;

  private constructor(private readonly db: Knex, readonly location: string, readonly readOnly = false) {
    this.sqlite = !isPostgres(location);
  }

  /** Syncs already told that the file is gone: their run has failed; its last writes may go on. */
  private readonly toldGone = new Set<string>();
  private readonly runSyncs = new Map<number, string>();

  /**
   * Throws if the SQLite file was deleted or replaced since it was opened: the connection
   * still writes, to a file no later run reads, and the next run would resend everything.
   * Once per sync, so that its failed run still ends (and is reported) as a failure.
   */
  private checkFile(sync: string | undefined): void {
    if (!this.file || (sync !== undefined && this.toldGone.has(sync))) return;
    let now: { dev: number; ino: number } | undefined;
    try {
      now = statSync(this.file.resolved);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (now?.dev !== this.file.dev || now.ino !== this.file.ino) {
      if (sync !== undefined) this.toldGone.add(sync);
      throw new StateError(now
        ? `the state file ${this.file.path} was replaced while pinsync had it open: what this run saved went to the old file, so the next pinsync run starts from the new file's checkpoint and sends again at least what this run delivered`
        : `the state file ${this.file.path} was removed while pinsync had it open: its checkpoints are lost, so the next pinsync run sends every row again (restore the file from a copy to resend less)`);
    }
  }

  /**
   * Runs `work` as one SQLite transaction with the batch statements, on knex's only SQLite
   * connection: holding it, no knex query or transaction can run in between.
   */
  private async inSqliteTransaction(work: (statements: BatchStatements) => void): Promise<void> {
    const conn = (await this.db.client.acquireConnection()) as Database;
    try {
      conn.transaction(work)(batchStatements(conn));
    } finally {
      await this.db.client.releaseConnection(conn);
    }
  }

  /** Renews the sync's lease in the transaction; throws (rolling it back) if the lease is lost. */
  private confirmLease(sync: string, statements: BatchStatements): void {
    this.leases.get(sync)?.confirmWith((token, expiresAt) => statements.renewLease.run(expiresAt, sync, token).changes);
  }

  /** Opens (and migrates) the state at a SQLite path or a postgres:// URL. */
  static async open(url: string): Promise<StateStore> {
    checkStateLocation(url);
    const knex = await loadKnex();
    const config = connectionFor(url, false);
    const db = createKnex(knex, config);
    try {
      if (config.client === 'pg') {
        // Created only when missing: a role may use a schema made for it without CREATE on the database.
        const { schema } = postgresSchema(url);
        const { rows } = await db.raw<{ rows: unknown[] }>('SELECT 1 FROM pg_namespace WHERE nspname = ?', [schema]);
        if (rows.length === 0) await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [schema]);
      }
      await db.migrate.latest({ migrationSource: MIGRATIONS, tableName: 'pinsync_migrations' });
    } catch (error) {
      // The pool's timers (reaping, idle connections) would keep the process alive.
      await db.destroy().catch(() => undefined);
      throw error;
    }
    const store = new StateStore(db, url);
    store.file = fileIdentity(url);
    return store;
  }

  /** Opens existing state for reading only (preview); undefined when there is none yet. */
  static async openReadOnly(url: string): Promise<StateStore | undefined> {
    checkStateLocation(url);
    if (!isPostgres(url) && !existsSync(sqliteFile(url))) return undefined;
    const knex = await loadKnex();
    const db = createKnex(knex, connectionFor(url, true));
    let migrated = true;
    try {
      // A file that is not a state, or is damaged, fails here, where it reads as such.
      await db('checkpoints').first().catch((error: Error) => {
        if (!missingTable(error)) throw error;
        migrated = false;
      });
    } catch (error) {
      await db.destroy().catch(() => undefined);
      throw error;
    }
    // A state no run has written to yet holds nothing to read.
    if (!migrated) {
      await db.destroy();
      return undefined;
    }
    return new StateStore(db, url, true);
  }

  async checkpoint(sync: string): Promise<Checkpoint | undefined> {
    const row = await this.db('checkpoints').where({ sync }).first().catch((error: Error) => {
      // State that was never migrated has no checkpoints yet; a damaged one is an error.
      if (this.readOnly && missingTable(error)) return undefined;
      throw error;
    });
    if (!row || (row.key === null && row.cursor === null)) return undefined;
    const ledgerSince = row.ledger_cursor == null ? null
      : { cursor: fromStorable(row.ledger_cursor as string)!, key: fromStorable((row.ledger_key as string | null) ?? null), inclusive: Boolean(row.ledger_inclusive) };
    return { position: { cursor: fromStorable(row.cursor as string | null), key: fromStorable(row.key as string | null) }, updatedAt: toDate(row.updated_at), ledgerSince };
  }

  /** Records where the sync's ledger starts being complete; null forgets it. */
  async saveLedgerSince(sync: string, since: Position | null): Promise<void> {
    await this.upsert(this.db, sync, { ledger_cursor: toStorable(since?.cursor ?? null), ledger_key: toStorable(since?.key ?? null), ledger_inclusive: since?.inclusive === true });
  }

  /** The earliest cursor time the ledger holds for a sync; null when it holds none. */
  async oldestLedgerEntry(sync: string): Promise<number | null> {
    const row = await this.db('delivered').where({ sync }).min<{ oldest: number | string | null }[]>({ oldest: 'cursor_ms' }).first();
    return row?.oldest == null ? null : Number(row.oldest);
  }

  /** Events an earlier run sent beyond the checkpoint without settling them. */
  async unsettledEvents(sync: string): Promise<number> {
    const row = await this.db('checkpoints').where({ sync }).first();
    return Number(row?.unsettled_events ?? 0);
  }

  async saveCheckpoint(sync: string, position: Position | null): Promise<void> {
    this.checkFile(sync);
    await this.upsert(this.db, sync, { cursor: toStorable(position?.cursor ?? null), key: toStorable(position?.key ?? null), updated_at: new Date() });
  }

  /** Recorded before a batch is sent: how many events a crash now would leave unsettled. */
  async saveUnsettled(sync: string, events: number): Promise<void> {
    this.checkFile(sync);
    if (this.sqlite) {
      return this.inSqliteTransaction((statements) => {
        this.confirmLease(sync, statements);
        statements.saveUnsettled.run(sync, events, Date.now());
      });
    }
    await this.db.transaction(async (trx) => {
      // Nothing is sent for a sync whose lock this run no longer holds.
      await this.leases.get(sync)?.confirm(trx);
      await this.upsert(trx, sync, { unsettled_events: events });
    });
  }

  /**
   * A settled batch: its rejects, the checkpoint past it, what is still unsettled and the run's
   * counts so far (a killed run's record shows them), atomically.
   */
  async commitBatch(
    sync: string, runId: number, rejects: RejectRecord[], position: Position, unsettled: number, delivered: LedgerEntry[] = [], counts?: RunCounts,
  ): Promise<void> {
    this.checkFile(sync);
    if (this.sqlite) {
      return this.inSqliteTransaction((statements) => {
        this.confirmLease(sync, statements);
        for (const r of rejects) {
          statements.insertReject.run(runId, sync, readableText(r.primaryKey), readableText(r.eventId), r.stage, readableText(redactQuoted(r.reason)));
        }
        for (const d of delivered) statements.insertDelivered.run(sync, d.digest, d.cursorMs);
        statements.savePosition.run(sync, toStorable(position.cursor), toStorable(position.key), unsettled, Date.now());
        const c = counts;
        if (c) statements.saveRunCounts.run(c.rowsRead, c.alreadyDelivered, c.eventsSent, c.processed, c.rejectedLocal, c.rejectedPinterest, c.resent, c.skipped, runId);
      });
    }
    await this.db.transaction(async (trx) => {
      // A run that lost its lock must not move the checkpoint: the transaction rolls back.
      await this.leases.get(sync)?.confirm(trx);
      await this.insertRejects(trx, runId, sync, rejects);
      const rows = delivered.map((d) => ({ sync, digest: d.digest, cursor_ms: d.cursorMs }));
      for (let i = 0; i < rows.length; i += 200) await trx('delivered').insert(rows.slice(i, i + 200)).onConflict(['sync', 'digest']).ignore();
      await this.upsert(trx, sync, { cursor: toStorable(position.cursor), key: toStorable(position.key), unsettled_events: unsettled, updated_at: new Date() });
      if (counts) await trx('runs').where({ id: runId }).update(countColumns(counts));
    });
  }

  /** Which of these digests the ledger already holds. */
  async delivered(sync: string, digests: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < digests.length; i += 500) {
      const rows = await this.db('delivered').where({ sync }).whereIn('digest', digests.slice(i, i + 500)).select('digest');
      for (const r of rows) found.add(r.digest as string);
    }
    return found;
  }

  /** Forgets deliveries whose rows can no longer be re-read (cursor before the lookback window). */
  async pruneLedger(sync: string, beforeMs: number): Promise<number> {
    return this.db('delivered').where({ sync }).andWhere('cursor_ms', '<', beforeMs).delete();
  }

  async clearLedger(sync: string): Promise<void> {
    await this.db('delivered').where({ sync }).delete();
  }

  /** Forgets these entries of a sync's ledger (rows to be sent again). */
  async forgetLedger(sync: string, digests: string[]): Promise<void> {
    for (let i = 0; i < digests.length; i += 500) await this.db('delivered').where({ sync }).whereIn('digest', digests.slice(i, i + 500)).delete();
  }

  async ledgerSize(sync: string): Promise<number> {
    const row = await this.db('delivered').where({ sync }).count<{ n: number }[]>({ n: '*' }).first();
    return Number(row?.n ?? 0);
  }

  /** The audience sync's customer list; undefined before the first run found or created it. */
  async audienceList(sync: string): Promise<AudienceListRecord | undefined> {
    const row = await this.db('audience_lists').where({ sync }).first().catch((error: Error) => {
      if (this.readOnly && missingTable(error)) return undefined;
      throw error;
    });
    if (!row) return undefined;
    return { listId: String(row.list_id), listName: String(row.list_name), listType: String(row.list_type), adAccountId: String(row.ad_account_id), audienceId: (row.audience_id as string | null) ?? null };
  }

  async saveAudienceList(sync: string, list: AudienceListRecord): Promise<void> {
    this.checkFile(sync);
    await this.db.transaction(async (trx) => {
      await this.leases.get(sync)?.confirm(trx);
      const values = { list_id: list.listId, list_name: list.listName, list_type: list.listType, ad_account_id: list.adAccountId, audience_id: list.audienceId, updated_at: new Date() };
      await trx('audience_lists').insert({ sync, ...values }).onConflict('sync').merge(values);
    });
  }

  /** Every digest the state holds for the sync, with its standing, a page at a time (in digest order). */
  async *members(sync: string, pageSize = 50_000): AsyncIterable<[string, MemberState][]> {
    let after = '';
    for (;;) {
      const rows = await this.db('audience_members').where({ sync }).andWhere('digest', '>', after).orderBy('digest').limit(pageSize).select('digest', 'state')
        .catch((error: Error) => {
          if (this.readOnly && missingTable(error)) return [];
          throw error;
        });
      if (rows.length === 0) return;
      yield rows.map((r) => [r.digest as string, MEMBER_STATES[r.state as string] ?? 'member']);
      after = rows[rows.length - 1]!.digest as string;
      if (rows.length < pageSize) return;
    }
  }

  /** How many digests the sync's membership holds, by standing. */
  async memberCounts(sync: string): Promise<Record<MemberState, number>> {
    const counts: Record<MemberState, number> = { member: 0, adding: 0, removing: 0, leaving: 0 };
    const rows = await this.db('audience_members').where({ sync }).select('state').count<{ state: string; n: number | string }[]>({ n: '*' }).groupBy('state')
      .catch((error: Error) => {
        if (this.readOnly && missingTable(error)) return [];
        throw error;
      });
    for (const r of rows) counts[MEMBER_STATES[r.state] ?? 'member'] += Number(r.n);
    return counts;
  }

  /**
   * Before a request is sent: its digests become 'adding' or 'removing', so that a crash
   * leaves them to be settled again by the next run, whichever way the request went.
   */
  async markMembers(sync: string, operation: 'adding' | 'removing' | 'leaving', digests: readonly string[], counts?: RunColumns): Promise<void> {
    await this.writeMembers(sync, digests, MEMBER_CODES[operation], counts);
  }

  /** After Pinterest took a request: its digests are members (ADD) or gone (REMOVE), with the run's counts. */
  async settleMembers(sync: string, operation: 'added' | 'removed', digests: readonly string[], counts?: RunColumns): Promise<void> {
    await this.writeMembers(sync, digests, operation === 'added' ? MEMBER_CODES.member : null, counts);
  }

  /** An audience run's rejects, with its counts so far, at once. */
  async recordRejects(sync: string, runId: number, rejects: RejectRecord[], counts?: RunColumns): Promise<void> {
    this.checkFile(sync);
    await this.db.transaction(async (trx) => {
      await this.leases.get(sync)?.confirm(trx);
      await this.insertRejects(trx, runId, sync, rejects);
      if (counts) await trx('runs').where({ id: counts.runId }).update(counts.values);
    });
  }

  private async writeMembers(sync: string, digests: readonly string[], code: string | null, counts?: RunColumns): Promise<void> {
    this.checkFile(sync);
    await this.db.transaction(async (trx) => {
      await this.leases.get(sync)?.confirm(trx);
      // Chunked: SQLite limits bound parameters per statement.
      for (let i = 0; i < digests.length; i += 500) {
        const chunk = digests.slice(i, i + 500);
        if (code === null) await trx('audience_members').where({ sync }).whereIn('digest', chunk).delete();
        else await trx('audience_members').insert(chunk.map((digest) => ({ sync, digest, state: code }))).onConflict(['sync', 'digest']).merge(['state']);
      }
      if (counts) await trx('runs').where({ id: counts.runId }).update(counts.values);
    });
  }

  /** Forgets the sync's membership (reset): the next run adds every member again and removes none. */
  async clearMembers(sync: string): Promise<number> {
    return this.db('audience_members').where({ sync }).delete();
  }

  /** Forgets the sync's customer list too (reset): the next run finds or creates it again. */
  async clearAudienceList(sync: string): Promise<void> {
    await this.db('audience_lists').where({ sync }).delete();
  }

  /** The sync this state records as keeping a customer list, if any. */
  async listKeeper(adAccountId: string, listId: string): Promise<string | undefined> {
    const row = await this.db('audience_lists').where({ ad_account_id: adAccountId, list_id: listId }).first('sync');
    return (row?.sync as string | undefined) ?? undefined;
  }

  private async upsert(db: Knex, sync: string, values: Record<string, unknown>): Promise<void> {
    await db('checkpoints').insert({ sync, updated_at: new Date(), ...values }).onConflict('sync').merge(values);
  }

  async startRun(sync: string): Promise<number> {
    // A new run of a sync (schedule) is told again.
    this.toldGone.delete(sync);
    this.checkFile(sync);
    // The caller holds the sync's lock: a run still marked running was killed.
    await this.db('runs').where({ sync, outcome: 'running' }).update({ outcome: 'killed', error: 'the process ended without finishing (killed or crashed)' });
    const [row] = await this.db('runs').insert({ sync, started_at: new Date(), outcome: 'running', ...countColumns(ZERO_COUNTS) }).returning('id');
    const id = typeof row === 'object' ? (row as { id: number }).id : (row as number);
    this.runSyncs.set(id, sync);
    return id;
  }

  async finishRun(id: number, outcome: RunOutcome, counts: RunCounts, error?: string): Promise<void> {
    await this.db('runs').where({ id }).update({ ended_at: new Date(), outcome, error: error === undefined ? null : readableText(redactQuoted(error)), ...countColumns(counts) });
    // Checked after the write: a run must not end as a success in a file nobody will read.
    this.checkFile(this.runSyncs.get(id));
    this.runSyncs.delete(id);
  }

  /** Ends a run the process must quit before it finished: its counts stay those of its last commit. */
  async interruptRun(id: number, error: string): Promise<void> {
    await this.db('runs').where({ id, outcome: 'running' }).update({ ended_at: new Date(), outcome: 'interrupted', error: redactQuoted(error) });
  }

  private async insertRejects(db: Knex, runId: number, sync: string, rejects: RejectRecord[]): Promise<void> {
    const rows = rejects.map((r) => ({
      run_id: runId, sync, primary_key: readableText(r.primaryKey), event_id: readableText(r.eventId), stage: r.stage, reason: readableText(redactQuoted(r.reason)),
    }));
    // Chunked: SQLite limits bound parameters per statement.
    for (let i = 0; i < rows.length; i += 100) await db('rejects').insert(rows.slice(i, i + 100));
  }

  async runs(sync: string, limit = 5): Promise<RunRecord[]> {
    const rows = await this.db('runs').where({ sync }).orderBy('id', 'desc').limit(limit);
    return rows.map(runFromRow);
  }

  /** A run's rejects in the order they were recorded: the first `limit` (all without one), of one stage or both. */
  async rejects(runId: number, options: { limit?: number; stage?: RejectRecord['stage'] } = {}): Promise<RejectRecord[]> {
    let query = this.db('rejects').where({ run_id: runId }).orderBy('id');
    if (options.stage) query = query.andWhere({ stage: options.stage });
    if (options.limit !== undefined) query = query.limit(options.limit);
    const rows = await query;
    return rows.map((r) => ({ primaryKey: r.primary_key, eventId: r.event_id, stage: r.stage, reason: r.reason }));
  }

  /** How many rejects a run has, by stage and reason, most frequent first. */
  async rejectCounts(runId: number, stage?: RejectRecord['stage']): Promise<{ stage: RejectRecord['stage']; reason: string; count: number }[]> {
    let query = this.db('rejects').where({ run_id: runId });
    if (stage) query = query.andWhere({ stage });
    const rows = await query.select('stage', 'reason').count<{ stage: RejectRecord['stage']; reason: string; n: number | string }[]>({ n: '*' })
      .groupBy('stage', 'reason').orderBy([{ column: 'n', order: 'desc' }, { column: 'stage' }, { column: 'reason' }]);
    return rows.map((r) => ({ stage: r.stage, reason: r.reason, count: Number(r.n) }));
  }

  /** Whether any run of the sync had an event processed by Pinterest. */
  async hasProcessed(sync: string): Promise<boolean> {
    return (await this.db('runs').where({ sync }).andWhere('processed', '>', 0).first('id')) !== undefined;
  }

  /** Names of every sync with a checkpoint or a run. */
  async syncs(): Promise<string[]> {
    const fromCheckpoints = await this.db('checkpoints').distinct('sync');
    const fromRuns = await this.db('runs').distinct('sync');
    return [...new Set([...fromCheckpoints, ...fromRuns].map((r) => r.sync as string))].sort();
  }

  private readonly leases = new Map<string, SyncLock>();

  /** Takes the sync's lock, or throws LockedError naming the holder. Commits then check it is still ours. */
  async lock(sync: string, options?: LockOptions): Promise<SyncLock> {
    const lock = await acquireLock(this.db, sync, options);
    this.leases.set(sync, lock);
    return {
      lost: lock.lost,
      confirm: (trx) => lock.confirm(trx),
      confirmWith: (update) => lock.confirmWith(update),
      release: async () => {
        this.leases.delete(sync);
        await lock.release().catch((error: unknown) => {
          throw storeFailure(this.location, error);
        });
      },
    };
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

// A failure of the store, whichever method meets it, says which store failed, and is a
// StateError (exit 1), not a bare driver error. The lease's own errors pass as they are.
const GUARDED: (keyof StateStore)[] = [
  'checkpoint', 'unsettledEvents', 'saveCheckpoint', 'saveUnsettled', 'commitBatch', 'delivered', 'pruneLedger', 'clearLedger',
  'ledgerSize', 'saveLedgerSince', 'oldestLedgerEntry', 'audienceList', 'saveAudienceList', 'memberCounts', 'markMembers', 'settleMembers',
  'clearMembers', 'clearAudienceList', 'recordRejects', 'listKeeper', 'startRun', 'finishRun', 'interruptRun', 'runs', 'hasProcessed', 'rejects', 'rejectCounts', 'syncs', 'lock',
];
for (const name of GUARDED) {
  const methods = StateStore.prototype as unknown as Record<string, (this: StateStore, ...args: unknown[]) => Promise<unknown>>;
  const method = methods[name]!;
  methods[name] = async function guarded(this: StateStore, ...args: unknown[]) {
    try {
      return await method.apply(this, args);
    } catch (error) {
      throw storeFailure(this.location, error);
    }
  };
}

function storeFailure(location: string, error: unknown): PinsyncError {
  if (error instanceof PinsyncError) return error;
  return new StateError(`the state store at ${describeState(location)} failed: ${describeStateFailure(error)}`);
}

/** A run's counts under the names the state's columns, `--json` and logs share. */
export function countColumns(c: RunCounts): Record<string, number> {
  return {
    rows_read: c.rowsRead, already_delivered: c.alreadyDelivered, events_sent: c.eventsSent, processed: c.processed,
    rejected_local: c.rejectedLocal, rejected_pinterest: c.rejectedPinterest, resent: c.resent, skipped: c.skipped,
  };
}

function runFromRow(r: Record<string, unknown>): RunRecord {
  return {
    id: Number(r.id), sync: String(r.sync), startedAt: toDate(r.started_at), endedAt: r.ended_at ? toDate(r.ended_at) : null,
    outcome: r.outcome as RunOutcome, error: (r.error as string | null) ?? null,
    rowsRead: Number(r.rows_read), alreadyDelivered: Number(r.already_delivered ?? 0), eventsSent: Number(r.events_sent), processed: Number(r.processed),
    rejectedLocal: Number(r.rejected_local), rejectedPinterest: Number(r.rejected_pinterest), resent: Number(r.resent), skipped: Number(r.skipped ?? 0),
    membersAdded: Number(r.members_added ?? 0), membersRemoved: Number(r.members_removed ?? 0),
  };
}
