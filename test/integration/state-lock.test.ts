// The state store's lock: a run that lost its lease can no longer move the checkpoint.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import knexFactory from 'knex';
import { StateStore } from '../../src/state/store.js';
import { LockedError } from '../../src/core/errors.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pinsync-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sync locks', () => {
  it('refuses a second holder, then lets it in after release', async () => {
    const file = path.join(dir, 'a.db');
    const a = await StateStore.open(file);
    const b = await StateStore.open(file);
    const lock = await a.lock('orders');
    await expect(b.lock('orders')).rejects.toBeInstanceOf(LockedError);
    await lock.release();
    await (await b.lock('orders')).release();
    await a.close();
    await b.close();
  });

  it('rolls back a commit, and refuses to send, once the lease belongs to another run', async () => {
    const file = path.join(dir, 'b.db');
    const store = await StateStore.open(file);
    const lock = await store.lock('orders');
    const runId = await store.startRun('orders');
    await store.commitBatch('orders', runId, [], { cursor: null, key: '10' }, 0);
    // Another run takes the lease over (as after an expiry).
    const raw = knexFactory({ client: 'better-sqlite3', connection: { filename: file }, useNullAsDefault: true });
    await raw('locks').where({ sync: 'orders' }).update({ token: 'someone-else' });
    await raw.destroy();
    await expect(store.commitBatch('orders', runId, [{ primaryKey: '11', eventId: '11', stage: 'pinterest', reason: 'x' }], { cursor: null, key: '20' }, 0))
      .rejects.toThrow(/lost the lock of sync orders/);
    await expect(store.saveUnsettled('orders', 5)).rejects.toThrow(/lost the lock/);
    expect((await store.checkpoint('orders'))?.position).toEqual({ cursor: null, key: '10' });
    expect(await store.rejects(runId)).toEqual([]);
    expect(lock.lost.aborted).toBe(true);
    await store.close();
  });
});
