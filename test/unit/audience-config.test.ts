import { describe, expect, it } from 'vitest';
import { formatProblem, parseSync } from '../../src/config/load.js';

const ENV = { AD_ACCOUNT: '549757463328', TOKEN: 'pina_oauth_token' };
const problemsOf = (text: string) => parseSync(text, 'vip.yaml', { env: ENV }).problems.map(formatProblem);

const AUDIENCE = `version: 1
kind: audience
source:
  type: postgres
  table: crm.vip_customers
  primary_key: customer_id
destination:
  ad_account_id: \${AD_ACCOUNT}
  access_token: \${TOKEN}
  customer_list: { name: VIP customers }
  audience: { name: VIP customers }
match:
  em: email
options:
  max_removal_rate: 0.3
`;

describe('an audience sync file', () => {
  it('is valid as the issue writes it, with no mappings', () => {
    const loaded = parseSync(AUDIENCE, 'vip.yaml', { env: ENV });
    expect(loaded.problems).toEqual([]);
    expect(loaded.sync).toMatchObject({ kind: 'audience', destination: { customer_list: { name: 'VIP customers' }, audience: { name: 'VIP customers' } }, options: { max_removal_rate: 0.3 } });
  });

  it('takes a list id instead of a name', () => {
    expect(problemsOf(AUDIENCE.replace('{ name: VIP customers }\n  audience', '{ id: "123" }\n  audience'))).toEqual([]);
    expect(problemsOf(AUDIENCE.replace('customer_list: { name: VIP customers }', 'customer_list: { id: "12a" }'))).toHaveLength(1);
  });

  it('needs exactly one identifier, em or hashed_maids', () => {
    expect(problemsOf(AUDIENCE.replace('  em: email', '  em: email\n  hashed_maids: maid'))).toEqual([
      'vip.yaml:13:3: match: a customer list has one type: give em or hashed_maids, not both (one sync per list)',
    ]);
    expect(problemsOf(AUDIENCE.replace('  em: email', '  ph: phone'))[0]).toMatch(/match\.ph: a customer list matches on one identifier, em \(EMAIL list\) or hashed_maids \(MAID list\), not ph/);
  });

  it('refuses what only event syncs have: a cursor, mappings, batch_size, test, concurrency', () => {
    const text = AUDIENCE
      .replace('  primary_key: customer_id', '  primary_key: customer_id\n  cursor: updated_at')
      .replace('  audience: { name: VIP customers }', '  audience: { name: VIP customers }\n  batch_size: 10\n  test: true\n  concurrency: 2')
      .concat('mappings:\n  event_name: { value: checkout }\n');
    const problems = problemsOf(text);
    expect(problems.some((p) => /source\.cursor: an audience sync reads its whole query/.test(p))).toBe(true);
    expect(problems.some((p) => /mappings: an audience sync sends no events/.test(p))).toBe(true);
    expect(problems.some((p) => /destination\.batch_size: batch_size is for event syncs \(its size is records_per_request\)/.test(p))).toBe(true);
    expect(problems.some((p) => /destination\.test: .*no test mode/.test(p))).toBe(true);
    expect(problems.some((p) => /destination\.concurrency: .*one at a time/.test(p))).toBe(true);
  });

  it('needs a customer list', () => {
    expect(problemsOf(AUDIENCE.replace('  customer_list: { name: VIP customers }\n', ''))).toEqual([
      'vip.yaml:8:3: destination: an audience sync needs destination.customer_list: { name: LIST NAME } (created on the first run) or { id: "LIST ID" }',
    ]);
  });

  it('refuses the email column as its primary key', () => {
    expect(problemsOf(AUDIENCE.replace('primary_key: customer_id', 'primary_key: email'))[0]).toMatch(/source\.primary_key: column 'email' is hashed for match\.em/);
  });

  it('bounds records_per_request and max_removal_rate', () => {
    expect(problemsOf(AUDIENCE.replace('  audience: { name', '  records_per_request: 100001\n  audience: { name'))).toHaveLength(1);
    expect(problemsOf(AUDIENCE.replace('max_removal_rate: 0.3', 'max_removal_rate: 1.5'))).toHaveLength(1);
  });
});

describe('an event sync file', () => {
  it('refuses the keys of customer lists, saying kind: audience', () => {
    const events = `version: 1
source: { type: duckdb, table: orders, primary_key: order_id }
destination:
  ad_account_id: \${AD_ACCOUNT}
  access_token: \${TOKEN}
  customer_list: { name: VIP }
match: { em: email }
mappings:
  event_name: { value: checkout }
  action_source: { value: web }
  event_time: completed_at
options: { max_removal_rate: 0.5 }
`;
    expect(problemsOf(events)).toEqual([
      'vip.yaml:6:18: destination.customer_list: customer_list is for customer lists: add `kind: audience`, or remove it',
      'vip.yaml:12:30: options.max_removal_rate: max_removal_rate is for customer lists: add `kind: audience`, or remove it',
    ]);
  });

  it('still needs its mappings', () => {
    expect(problemsOf(AUDIENCE.replace('kind: audience\n', '').replace('  customer_list: { name: VIP customers }\n  audience: { name: VIP customers }\n', '').replace('options:\n  max_removal_rate: 0.3\n', '')))
      .toEqual(["vip.yaml:1:1: mappings: missing required key 'mappings'"]);
  });
});
