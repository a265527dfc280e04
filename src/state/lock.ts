// One run per sync: a lease row in the state store, renewed by a heartbeat. A lease left by
// a killed process expires (or, on the same host, is taken over as soon as its pid is gone);
// a holder that fails to renew learns it lost the lease and stops sending.
import { randomUUID } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Knex } from 'knex';
import { LockedError, StateError } from '../core/errors.js';

export interface LockHolder {
  host: string;
  pid: number;
  startedAt: Date;
}

export interface SyncLock {
  /** Aborted (with an Error) if the lease was lost: the run must stop. */
  readonly lost: AbortSignal;
  /** Renews the lease inside a commit's transaction; throws (rolling it back) if it is no longer ours. */
  confirm(trx: Knex): Promise<void>;
  /**
   * The same, for a transaction that runs its own statements: `update` sets the lease row's
   * expires_at where sync and token match, and returns how many rows it changed.
   */
  confirmWith(update: LeaseUpdate): void;
  release(): Promise<void>;
}

export type LeaseUpdate = (token: string, expiresAt: number) => number;

export interface LockOptions {
  /** How long a lease lasts without renewal. */
  ttlMs?: number;
}

const DEFAULT_TTL_MS = 60_000;

/**
 * Where a pid means something: the host and, on Linux, its pid namespace. Containers that
 * share a hostname (host networking) have different namespaces, so none of them takes
 * over another's lease on the strength of a pid it cannot see.
 */
function processScope(): string {
  try {
    return `${hostname()} ${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return `${hostname()} ?`;
  }
}

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
  const scope = processScope();
  const now = Date.now();
  const existing = await db('locks').where({ sync }).first();
  // In this host and pid namespace, a holder whose process is gone cannot be running: its lease can go now.
  const deadHere = existing && existing.scope === scope && !scope.endsWith('?') && !alive(Number(existing.pid));
  const takeOver = deadHere ? existing.token : '';
  // One statement, atomic in SQLite and PostgreSQL alike: insert, or take an expired (or dead) lease.
  await db.raw(
    `INSERT INTO locks (sync, token, host, scope, pid, started_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (sync) DO UPDATE SET token = excluded.token, host = excluded.host, scope = excluded.scope, pid = excluded.pid,
       started_at = excluded.started_at, expires_at = excluded.expires_at
     WHERE locks.expires_at < ? OR locks.token = ?`,
    [sync, token, host, scope, process.pid, now, now + ttl, now, takeOver],
  );
  const row = await db('locks').where({ sync }).first();
  if (!row || row.token !== token) {
    throw new LockedError(describeHolder(sync, { host: row?.host ?? '?', pid: Number(row?.pid ?? 0), startedAt: new Date(Number(row?.started_at ?? 0)) }));
  }

  const controller = new AbortController();
  let expires = now + ttl;
  const lose = (why: string) => {
    if (!controller.signal.aborted) controller.abort(new StateError(`lost the lock of sync ${sync} (${why}); stopped sending`));
  };
  /** Extends the lease; false when another run holds it now. */
  const renew = async (trx: Knex = db): Promise<boolean> => {
    const until = Date.now() + ttl;
    return renewed(await trx('locks').where({ sync, token }).update({ expires_at: until }), until);
  };
  const renewed = (rowsChanged: number, until: number): boolean => {
    if (rowsChanged === 0) return false;
    expires = until;
    return true;
  };
  const confirmed = (ok: boolean): void => {
    if (!ok) {
      lose('another run took it over');
      throw controller.signal.reason as Error;
    }
  };
  let renewing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    renewing = (async () => {
      try {
        if (!(await renew())) lose('another run took it over');
      } catch {
        // The state store did not answer: keep trying while the lease is still ours.
        if (Date.now() >= expires) lose('its lease expired while the state store was unreachable');
      }
    })();
  }, Math.max(50, Math.floor(ttl / 3)));
  timer.unref();

  return {
    lost: controller.signal,
    async confirm(trx) {
      confirmed(!controller.signal.aborted && (await renew(trx)));
    },
    confirmWith(update) {
      const until = Date.now() + ttl;
      confirmed(!controller.signal.aborted && renewed(update(token, until), until));
    },
    async release() {
      clearInterval(timer);
      await renewing;
      await db('locks').where({ sync, token }).delete();
    },
  };
}
