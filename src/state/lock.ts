// One run per sync: a lease row in the state store, renewed by a heartbeat. A lease left by
// a killed process expires (or, on the same host, is taken over as soon as its pid is gone);
// a holder that fails to renew learns it lost the lease and stops sending.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Knex } from 'knex';
import { LockedError, StateError } from '../errors.js';

export interface LockHolder {
  host: string;
  pid: number;
  startedAt: Date;
}

export interface SyncLock {
  /** Aborted (with an Error) if the lease was lost: the run must stop. */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

export interface LockOptions {
  /** How long a lease lasts without renewal. */
  ttlMs?: number;
}

const DEFAULT_TTL_MS = 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function describeHolder(sync: string, holder: LockHolder): string {
  return `sync ${sync} is already running (pid ${holder.pid} on ${holder.host}, since ${holder.startedAt.toISOString()}); this run did nothing`;
}

export async function acquireLock(db: Knex, sync: string, options: LockOptions = {}): Promise<SyncLock> {
  const ttl = options.ttlMs ?? DEFAULT_TTL_MS;
  const token = randomUUID();
  const host = hostname();
  const now = Date.now();
  const existing = await db('locks').where({ sync }).first();
  // On this host, a holder whose process is gone cannot be running: its lease can go now.
  const deadHere = existing && existing.host === host && !alive(Number(existing.pid));
  const takeOver = deadHere ? existing.token : '';
  // One statement, atomic in SQLite and PostgreSQL alike: insert, or take an expired (or dead) lease.
  await db.raw(
    `INSERT INTO locks (sync, token, host, pid, started_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (sync) DO UPDATE SET token = excluded.token, host = excluded.host, pid = excluded.pid,
       started_at = excluded.started_at, expires_at = excluded.expires_at
     WHERE locks.expires_at < ? OR locks.token = ?`,
    [sync, token, host, process.pid, now, now + ttl, now, takeOver],
  );
  const row = await db('locks').where({ sync }).first();
  if (!row || row.token !== token) {
    throw new LockedError(describeHolder(sync, { host: row?.host ?? '?', pid: Number(row?.pid ?? 0), startedAt: new Date(Number(row?.started_at ?? 0)) }));
  }

  const controller = new AbortController();
  let renewing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    renewing = (async () => {
      const updated = await db('locks').where({ sync, token }).update({ expires_at: Date.now() + ttl }).catch(() => 0);
      if (updated === 0 && !controller.signal.aborted) {
        controller.abort(new StateError(`lost the lock of sync ${sync} (its lease could not be renewed, so another run may take it over); stopped sending`));
      }
    })();
  }, Math.max(50, Math.floor(ttl / 3)));
  timer.unref();

  return {
    lost: controller.signal,
    async release() {
      clearInterval(timer);
      await renewing;
      await db('locks').where({ sync, token }).delete();
    },
  };
}
