// Checkpoints, runs and rejects, on knex: a SQLite file by default; PostgreSQL is the
// same code with another client. Nothing stored here holds a raw identifier or a secret.
import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import type { Database, Statement } from 'better-sqlite3';
import type knexFactory from 'knex';
import type { Knex } from 'knex';
import type { Position } from '../sources/types.js';
import { MIGRATIONS } from './migrations.js';
import { acquireLock, type LockOptions, type SyncLock } from './lock.js';
import { redactQuoted } from '../redact.js';

export interface Checkpoint {
  position: Position;
  updatedAt: Date;
  /** Where the sync's ledger starts being complete (rows re-read before it would be unknown); null without one. */
  ledgerSince?: Position | null;
}

export type RunOutcome = 'running' | 'succeeded' | 'failed' | 'rejects_exceeded' | 'interrupted' | 'killed';

export interface RunCounts {
  rowsRead: number;
  /** Rows re-read (lookback, or no cursor) whose event was delivered before: not sent again. */
  alreadyDelivered: number;
  eventsSent: number;
  processed: number;
  rejectedLocal: number;
  rejectedPinterest: number;
  resent: number;
}

export interface RunRecord extends RunCounts {
  id: number;
  sync: string;
  startedAt: Date;
  endedAt: Date | null;
  outcome: RunOutcome;
  error: string | null;
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

const ZERO_COUNTS: RunCounts = { rowsRead: 0, alreadyDelivered: 0, eventsSent: 0, processed: 0, rejectedLocal: 0, rejectedPinterest: 0, resent: 0 };

const isPostgres = (url: string) => /^postgres(ql)?:\/\//.test(url);
const sqliteFile = (url: string) => url.replace(/^sqlite:(\/\/)?/, '');

/** PostgreSQL state lives in its own schema: `pinsync`, or `?schema=name` on the URL. */
function postgresSchema(url: string): { connection: string; schema: string } {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? 'pinsync';
  parsed.searchParams.delete('schema');
  return { connection: parsed.toString(), schema };
}

// knex (with lodash, tens of milliseconds to load even from its own bundle chunk) loads only
// when a state is opened: commands that need none start sooner. knex loads pg as soon as it
// is created: loaded first as the PostgreSQL source loads it, pg skips its check for
// Cloudflare Workers (see sources/postgres/driver.ts).
async function loadKnex(url: string): Promise<typeof knexFactory> {
  if (isPostgres(url)) await import('../sources/postgres/driver.js');
  return (await import('knex')).default;
}

function connectionFor(url: string, readOnly: boolean): Knex.Config {
  if (isPostgres(url)) {
    const { connection, schema } = postgresSchema(url);
    return { client: 'pg', connection, searchPath: [schema], pool: { min: 0, max: 2 } };
  }
  const filename = sqliteFile(url);
  if (!readOnly && filename !== ':memory:') mkdirSync(path.dirname(path.resolve(filename)), { recursive: true });
  return {
    client: 'better-sqlite3',
    connection: { filename, options: { readonly: readOnly } },
    useNullAsDefault: true,
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
// lease, its rejects and deliveries and the checkpoint once it settles. Through knex each
// statement is built, compiled and prepared again, which cost about 1 CPU s and 20 MB of
// peak memory per million events (measured). On SQLite, the default store, they run as
// statements prepared once per connection; PostgreSQL state keeps the knex code.
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
    rejected_pinterest = ?, resent = ? WHERE id = ?`,
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

// SQLite hands timestamps back as epoch milliseconds, PostgreSQL as Dates.
const toDate = (v: unknown): Date => (v instanceof Date ? v : new Date(typeof v === 'number' || /^\d+$/.test(String(v)) ? Number(v) : String(v)));

export class StateStore {
  private readonly sqlite: boolean;

  private constructor(private readonly db: Knex, readonly location: string, readonly readOnly = false) {
    this.sqlite = !isPostgres(location);
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
    const knex = await loadKnex(url);
    const config = connectionFor(url, false);
    const db = knex(config);
    if (config.client === 'pg') await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [postgresSchema(url).schema]);
    await db.migrate.latest({ migrationSource: MIGRATIONS, tableName: 'pinsync_migrations' });
    return new StateStore(db, url);
  }

  /** Opens existing state for reading only (preview); undefined when there is none yet. */
  static async openReadOnly(url: string): Promise<StateStore | undefined> {
    if (!isPostgres(url) && !existsSync(sqliteFile(url))) return undefined;
    const knex = await loadKnex(url);
    return new StateStore(knex(connectionFor(url, true)), url, true);
  }

  async checkpoint(sync: string): Promise<Checkpoint | undefined> {
    const row = await this.db('checkpoints').where({ sync }).first().catch((error: Error) => {
      // State that was never migrated has no checkpoints yet.
      if (this.readOnly) return undefined;
      throw error;
    });
    if (!row || (row.key === null && row.cursor === null)) return undefined;
    const ledgerSince = row.ledger_cursor == null ? null
      : { cursor: row.ledger_cursor as string, key: (row.ledger_key as string | null) ?? null, inclusive: Boolean(row.ledger_inclusive) };
    return { position: { cursor: row.cursor, key: row.key }, updatedAt: toDate(row.updated_at), ledgerSince };
  }

  /** Records where the sync's ledger starts being complete; null forgets it. */
  async saveLedgerSince(sync: string, since: Position | null): Promise<void> {
    await this.upsert(this.db, sync, { ledger_cursor: since?.cursor ?? null, ledger_key: since?.key ?? null, ledger_inclusive: since?.inclusive === true });
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
    await this.upsert(this.db, sync, { cursor: position?.cursor ?? null, key: position?.key ?? null, updated_at: new Date() });
  }

  /** Recorded before a batch is sent: how many events a crash now would leave unsettled. */
  async saveUnsettled(sync: string, events: number): Promise<void> {
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
    if (this.sqlite) {
      return this.inSqliteTransaction((statements) => {
        this.confirmLease(sync, statements);
        for (const r of rejects) statements.insertReject.run(runId, sync, r.primaryKey, r.eventId, r.stage, redactQuoted(r.reason));
        for (const d of delivered) statements.insertDelivered.run(sync, d.digest, d.cursorMs);
        statements.savePosition.run(sync, position.cursor, position.key, unsettled, Date.now());
        const c = counts;
        if (c) statements.saveRunCounts.run(c.rowsRead, c.alreadyDelivered, c.eventsSent, c.processed, c.rejectedLocal, c.rejectedPinterest, c.resent, runId);
      });
    }
    await this.db.transaction(async (trx) => {
      // A run that lost its lock must not move the checkpoint: the transaction rolls back.
      await this.leases.get(sync)?.confirm(trx);
      await this.insertRejects(trx, runId, sync, rejects);
      const rows = delivered.map((d) => ({ sync, digest: d.digest, cursor_ms: d.cursorMs }));
      for (let i = 0; i < rows.length; i += 200) await trx('delivered').insert(rows.slice(i, i + 200)).onConflict(['sync', 'digest']).ignore();
      await this.upsert(trx, sync, { cursor: position.cursor, key: position.key, unsettled_events: unsettled, updated_at: new Date() });
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

  private async upsert(db: Knex, sync: string, values: Record<string, unknown>): Promise<void> {
    await db('checkpoints').insert({ sync, updated_at: new Date(), ...values }).onConflict('sync').merge(values);
  }

  async startRun(sync: string): Promise<number> {
    // The caller holds the sync's lock: a run still marked running was killed.
    await this.db('runs').where({ sync, outcome: 'running' }).update({ outcome: 'killed', error: 'the process ended without finishing (killed or crashed)' });
    const [row] = await this.db('runs').insert({ sync, started_at: new Date(), outcome: 'running', ...countColumns(ZERO_COUNTS) }).returning('id');
    return typeof row === 'object' ? (row as { id: number }).id : (row as number);
  }

  async finishRun(id: number, outcome: RunOutcome, counts: RunCounts, error?: string): Promise<void> {
    await this.db('runs').where({ id }).update({ ended_at: new Date(), outcome, error: error === undefined ? null : redactQuoted(error), ...countColumns(counts) });
  }

  /** Ends a run the process must quit before it finished: its counts stay those of its last commit. */
  async interruptRun(id: number, error: string): Promise<void> {
    await this.db('runs').where({ id, outcome: 'running' }).update({ ended_at: new Date(), outcome: 'interrupted', error: redactQuoted(error) });
  }

  private async insertRejects(db: Knex, runId: number, sync: string, rejects: RejectRecord[]): Promise<void> {
    const rows = rejects.map((r) => ({ run_id: runId, sync, primary_key: r.primaryKey, event_id: r.eventId, stage: r.stage, reason: redactQuoted(r.reason) }));
    // Chunked: SQLite limits bound parameters per statement.
    for (let i = 0; i < rows.length; i += 100) await db('rejects').insert(rows.slice(i, i + 100));
  }

  async runs(sync: string, limit = 5): Promise<RunRecord[]> {
    const rows = await this.db('runs').where({ sync }).orderBy('id', 'desc').limit(limit);
    return rows.map(runFromRow);
  }

  async rejects(runId: number, limit = 1000): Promise<RejectRecord[]> {
    const rows = await this.db('rejects').where({ run_id: runId }).orderBy('id').limit(limit);
    return rows.map((r) => ({ primaryKey: r.primary_key, eventId: r.event_id, stage: r.stage, reason: r.reason }));
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
        await lock.release();
      },
    };
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

function countColumns(c: RunCounts): Record<string, number> {
  return {
    rows_read: c.rowsRead, already_delivered: c.alreadyDelivered, events_sent: c.eventsSent, processed: c.processed,
    rejected_local: c.rejectedLocal, rejected_pinterest: c.rejectedPinterest, resent: c.resent,
  };
}

function runFromRow(r: Record<string, unknown>): RunRecord {
  return {
    id: Number(r.id), sync: String(r.sync), startedAt: toDate(r.started_at), endedAt: r.ended_at ? toDate(r.ended_at) : null,
    outcome: r.outcome as RunOutcome, error: (r.error as string | null) ?? null,
    rowsRead: Number(r.rows_read), alreadyDelivered: Number(r.already_delivered ?? 0), eventsSent: Number(r.events_sent), processed: Number(r.processed),
    rejectedLocal: Number(r.rejected_local), rejectedPinterest: Number(r.rejected_pinterest), resent: Number(r.resent),
  };
}
