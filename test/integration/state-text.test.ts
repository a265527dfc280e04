// Key text neither store can hold as it is (a NUL for PostgreSQL, a lone UTF-16 surrogate for
// both): checkpoints come back byte-identical, rejects readable; plain text is stored as it is.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import knexFactory from 'knex';
import { checkStateLocation, describeStateFailure, fromStorable, readableText, StateStore, toStorable, ZERO_COUNTS } from '../../src/state/store.js';
import { UsageError } from '../../src/core/errors.js';
import { freshDatabase } from '../helpers/pg.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pinsync-statetext-'));
let pgUrl: string;
beforeAll(async () => {
  pgUrl = await freshDatabase('pinsync_state_text');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const AWKWARD = ['a\u0000b', '\u0000', 'lone \ud800 high', 'lone \udc00 low', 'pair \ud83d\ude80 ok', '\u0001pinsync-json:"not escaped"', 'plain', ''];

describe('storable text', () => {
  it('round-trips exactly, and leaves text either store holds unchanged', () => {
    for (const text of AWKWARD) expect(fromStorable(toStorable(text))).toBe(text);
    expect(toStorable('plain')).toBe('plain');
    expect(toStorable('pair \ud83d\ude80 ok')).toBe('pair \ud83d\ude80 ok');
    expect(toStorable(null)).toBeNull();
    for (const text of AWKWARD) expect(toStorable(text)).not.toMatch(/\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
  });

  it('shows what a store cannot hold as an escape', () => {
    expect(readableText('a\u0000b')).toBe('a\\u0000b');
    expect(readableText('x\ud800')).toBe('x\\ud800');
    expect(readableText('pair \ud83d\ude80')).toBe('pair \ud83d\ude80');
  });

  it.each(['sqlite', 'postgres'])('keeps checkpoints and rejects in %s state', async (kind) => {
    const url = kind === 'sqlite' ? path.join(dir, 'text.db') : `${pgUrl}?schema=text_state`;
    const store = await StateStore.open(url);
    try {
      const lock = await store.lock('s');
      const runId = await store.startRun('s');
      for (const key of AWKWARD) {
        await store.commitBatch('s', runId, [{ primaryKey: key, eventId: key, stage: 'local', reason: `bad ${key}` }], { cursor: key, key }, 0);
        expect((await store.checkpoint('s'))?.position).toEqual({ cursor: key, key });
      }
      const rejects = await store.rejects(runId);
      expect(rejects.map((r) => r.primaryKey)).toEqual(AWKWARD.map((k) => readableText(k)));
      await store.finishRun(runId, 'failed', { ...ZERO_COUNTS }, 'key a\u0000b');
      expect((await store.runs('s'))[0]?.error).toBe('key a\\u0000b');
      await lock.release();
    } finally {
      await store.close();
    }
  });
});

describe('state written by a newer pinsync', () => {
  it('is refused with a message that says so', async () => {
    const file = path.join(dir, 'newer.db');
    await (await StateStore.open(file)).close();
    const db = knexFactory({ client: 'better-sqlite3', connection: { filename: file }, useNullAsDefault: true });
    await db('pinsync_migrations').insert({ name: '099_future', batch: 99, migration_time: new Date() });
    await db.destroy();
    const error = await StateStore.open(file).then(() => undefined, (e: unknown) => e);
    expect(describeStateFailure(error)).toBe('it was written by a newer pinsync (schema changes 099_future): use that version of pinsync, or a later one, with this state');
  });
});

describe('state locations', () => {
  it('refuses URLs of stores pinsync does not have, and takes paths as paths', () => {
    for (const bad of ['mysql://u:p@h/db', 'file:///tmp/x.db', 'postgres:db', 'mysql:']) expect(() => checkStateLocation(bad)).toThrow(UsageError);
    for (const good of ['state.db', './a:b.db', '/tmp/x:y/state.db', 'sqlite:state.db', 'sqlite:///tmp/s.db', 'postgres://h/db', 'postgresql://h/db', ':memory:']) {
      expect(checkStateLocation(good)).toBeUndefined();
    }
  });
});
