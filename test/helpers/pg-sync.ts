// A sync file of a PostgreSQL table, for end-to-end tests that try many shapes of one sync.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

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
