// DuckDB "lead" syncs for the e2e tests of sending: a CSV of `rows` leads and its sync file in
// `work`/syncs, and the environment that points a run at the fake Pinterest.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { FakePinterest } from './fake-pinterest.js';

export const LEAD_BATCH = 10;

/**
 * Writes `data/<name>.csv` (lead ids start with the sync's name) and `<name>.yaml`; `destination`
 * holds extra destination lines (`key: value`, one a line). Returns the lead ids, in order.
 */
export function writeLeadSync(work: string, name: string, rows: number, destination = '', account = '${PINTEREST_AD_ACCOUNT_ID}'): string[] {
  const ids = Array.from({ length: rows }, (_, i) => `${name}-${String(i + 1).padStart(4, '0')}`);
  const created = new Date(Date.now() - 3600_000).toISOString();
  writeFileSync(path.join(work, 'syncs', 'data', `${name}.csv`), `lead_id,email,created\n${ids.map((id) => `${id},${id}@example.org,${created}`).join('\n')}\n`);
  writeFileSync(path.join(work, 'syncs', `${name}.yaml`), `version: 1
name: ${name}
source:
  type: duckdb
  query: SELECT * FROM read_csv('data/${name}.csv')
  primary_key: lead_id
destination:
  ad_account_id: ${account}
  access_token: \${PINTEREST_ACCESS_TOKEN}
  batch_size: ${LEAD_BATCH}
${destination.split('\n').filter(Boolean).map((line) => `  ${line}`).join('\n')}
match:
  em: email
mappings:
  event_name: { value: lead }
  action_source: { value: offline }
  event_time: created
`);
  return ids;
}

/** Empty syncs and data folders and no state, for the next test. */
export function clearLeadWork(work: string): void {
  rmSync(path.join(work, 'syncs'), { recursive: true, force: true });
  mkdirSync(path.join(work, 'syncs', 'data'), { recursive: true });
  for (const file of ['state.db', 'state.db-wal', 'state.db-shm']) rmSync(path.join(work, file), { force: true });
}

export const leadEnv = (work: string, fake: FakePinterest) => ({
  PINTEREST_API_URL: fake.url, PINTEREST_AD_ACCOUNT_ID: fake.adAccountId, PINTEREST_ACCESS_TOKEN: fake.token,
  PINSYNC_STATE: path.join(work, 'state.db'),
});
