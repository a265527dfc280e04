// The Snowflake stand-in, driven by the real snowflake-sdk (no pinsync code): each way to log in, a
// result in several chunks, each type as the driver parses it, the errors a user meets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import snowflake from 'snowflake-sdk';
import { FakeSnowflake } from '../helpers/fake-snowflake.js';

// No snowflake.log in the cwd, no console noise.
snowflake.configure({ logLevel: 'OFF' });

let fake: FakeSnowflake;

beforeAll(async () => {
  fake = await new FakeSnowflake({ chunkRows: 1000 }).start();
  await fake.exec('CREATE SCHEMA analytics');
  await fake.exec(`CREATE TABLE analytics.orders (id BIGINT, updated_at TIMESTAMP, email VARCHAR, total DECIMAL(38, 2))`);
  await fake.exec(`INSERT INTO analytics.orders SELECT i, TIMESTAMP '2026-01-01 00:00:00' + to_microseconds(i * 1000001), 'u' || i || '@example.com', i / 100 FROM range(5000) t(i)`);
});

afterAll(async () => {
  await fake.stop();
});

type Options = Partial<snowflake.ConnectionOptions>;

async function connect(extra: Options = {}): Promise<snowflake.Connection> {
  const connection = snowflake.createConnection({
    account: fake.account, username: fake.user, password: fake.password, accessUrl: fake.url,
    warehouse: 'PINSYNC_WH', database: 'PINSYNC_DB', schema: 'ANALYTICS', ...extra,
  } as snowflake.ConnectionOptions);
  await connection.connectAsync(() => undefined);
  return connection;
}

function stream(connection: snowflake.Connection, sqlText: string, binds: snowflake.Binds = [], extra: Record<string, unknown> = {}): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    connection.execute({
      sqlText, binds, streamResult: true, ...extra,
      complete: (err, statement) => {
        if (err) return reject(err);
        const rows: Record<string, unknown>[] = [];
        statement.streamRows().on('data', (row: Record<string, unknown>) => rows.push(row)).on('error', reject).on('end', () => resolve(rows));
      },
    });
  });
}

function destroy(connection: snowflake.Connection): Promise<void> {
  return new Promise((resolve, reject) => connection.destroy((err) => (err ? reject(err) : resolve())));
}

describe('fake snowflake', () => {
  it('logs in with a password, streams a result in chunks, closes the session', async () => {
    const connection = await connect();
    const before = fake.chunkDownloads;
    const rows = await stream(connection, 'SELECT id, updated_at, email, total FROM analytics.orders WHERE id >= ? ORDER BY id', [0]);
    expect(rows).toHaveLength(5000);
    expect(rows[4999]).toMatchObject({ ID: 4999, EMAIL: 'u4999@example.com', TOTAL: 49.99 });
    expect(fake.chunkDownloads - before).toBe(4);
    await destroy(connection);
    expect(fake.sessions.closed).toBe(1);
  });
});
