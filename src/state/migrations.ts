// Schema migrations, kept in code so the CLI needs no migration files on disk.
import type { Knex } from 'knex';

interface Migration {
  name: string;
  up(db: Knex): Promise<void>;
}

const migrations: Migration[] = [
  {
    name: '001_initial',
    async up(db) {
      await db.schema.createTable('checkpoints', (t) => {
        t.string('sync').primary();
        // Exact text of the cursor and primary key: full timestamp precision survives.
        t.text('cursor').nullable();
        t.text('key').nullable();
        // Events sent beyond the checkpoint and not yet settled: a crash makes them resends.
        t.integer('unsettled_events').notNullable().defaultTo(0);
        t.timestamp('updated_at', { useTz: true }).notNullable();
      });
      await db.schema.createTable('runs', (t) => {
        t.increments('id');
        t.string('sync').notNullable().index();
        t.timestamp('started_at', { useTz: true }).notNullable();
        t.timestamp('ended_at', { useTz: true }).nullable();
        t.string('outcome').notNullable();
        t.text('error').nullable();
        for (const column of ['rows_read', 'events_sent', 'processed', 'rejected_local', 'rejected_pinterest', 'resent']) {
          t.bigInteger(column).notNullable().defaultTo(0);
        }
      });
      await db.schema.createTable('rejects', (t) => {
        t.increments('id');
        t.integer('run_id').notNullable().index();
        t.string('sync').notNullable();
        t.text('primary_key').notNullable();
        t.text('event_id').nullable();
        t.string('stage').notNullable();
        t.text('reason').notNullable();
      });
    },
  },
  {
    name: '002_locks',
    async up(db) {
      // One lease per sync: whoever holds an unexpired lease runs it; the holder renews it.
      await db.schema.createTable('locks', (t) => {
        t.string('sync').primary();
        t.string('token').notNullable();
        t.string('host').notNullable();
        // Host and process namespace: only within the same one can a pid be checked for life.
        t.string('scope').notNullable();
        t.integer('pid').notNullable();
        t.bigInteger('started_at').notNullable();
        t.bigInteger('expires_at').notNullable();
      });
    },
  },
  {
    name: '003_ledger',
    async up(db) {
      // Events already delivered, for syncs that re-read rows (lookback, or no cursor): a
      // 16-byte digest of event_id (and cursor), and the row's cursor time for pruning.
      if (db.client.config.client === 'better-sqlite3') {
        // WITHOUT ROWID: the primary key is the table, which halves the ledger's size.
        await db.raw('CREATE TABLE delivered (sync TEXT NOT NULL, digest TEXT NOT NULL, cursor_ms INTEGER, PRIMARY KEY (sync, digest)) WITHOUT ROWID');
      } else {
        await db.schema.createTable('delivered', (t) => {
          t.string('sync').notNullable();
          t.string('digest', 22).notNullable();
          t.bigInteger('cursor_ms').nullable();
          t.primary(['sync', 'digest']);
        });
      }
      await db.schema.alterTable('runs', (t) => {
        t.bigInteger('already_delivered').notNullable().defaultTo(0);
      });
    },
  },
  {
    name: '004_ledger_since',
    async up(db) {
      // Where a sync's ledger starts being complete: runs never re-read rows before it.
      await db.schema.alterTable('checkpoints', (t) => {
        t.text('ledger_cursor').nullable();
        t.text('ledger_key').nullable();
        t.boolean('ledger_inclusive').notNullable().defaultTo(false);
      });
    },
  },
  {
    name: '005_skipped',
    async up(db) {
      // Rows a sync file's `skip:` leaves out on purpose, counted apart from rejects.
      await db.schema.alterTable('runs', (t) => {
        t.bigInteger('skipped').notNullable().defaultTo(0);
      });
    },
  },
  {
    name: '006_audiences',
    async up(db) {
      await db.schema.alterTable('runs', (t) => {
        t.bigInteger('members_added').notNullable().defaultTo(0);
        t.bigInteger('members_removed').notNullable().defaultTo(0);
      });
      // An audience sync's customer list (and its audience), once pinsync knows its id.
      await db.schema.createTable('audience_lists', (t) => {
        t.string('sync').primary();
        t.string('list_id').notNullable();
        t.string('list_name').notNullable();
        t.string('list_type').notNullable();
        t.string('ad_account_id').notNullable();
        t.string('audience_id').nullable();
        t.timestamp('updated_at', { useTz: true }).notNullable();
        // One sync per list: two would remove each other's members.
        t.unique(['ad_account_id', 'list_id']);
      });
      // The list's members as pinsync sent them: the SHA-256 hex Pinterest received, nothing
      // else. state: 'm' a member, 'a' an ADD in flight, 'r' a REMOVE in flight (after a
      // crash, either may or may not have reached Pinterest).
      if (db.client.config.client === 'better-sqlite3') {
        await db.raw('CREATE TABLE audience_members (sync TEXT NOT NULL, digest TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (sync, digest)) WITHOUT ROWID');
      } else {
        await db.schema.createTable('audience_members', (t) => {
          t.string('sync').notNullable();
          t.string('digest', 64).notNullable();
          t.string('state', 1).notNullable();
          t.primary(['sync', 'digest']);
        });
      }
    },
  },
];

export const MIGRATIONS: Knex.MigrationSource<Migration> = {
  getMigrations: async () => migrations,
  getMigrationName: (m) => m.name,
  getMigration: async (m) => ({ up: m.up, down: async () => undefined }),
};
