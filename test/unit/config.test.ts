import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { formatProblem, parseSync } from '../../src/config/load.js';
import { syncJsonSchema } from '../../src/config/schema.js';

const problemsOf = (text: string, env: Record<string, string> = {}, requireDestination = true) =>
  parseSync(text, 'sync.yaml', { env, requireDestination }).problems.map(formatProblem);

const VALID = `version: 1
source:
  type: duckdb
  table: orders
  primary_key: order_id
  cursor: updated_at
destination:
  ad_account_id: \${AD_ACCOUNT}
  access_token: \${TOKEN}
match:
  em: email
mappings:
  event_name: { value: checkout }
  action_source: { value: web }
  event_time: completed_at
`;
const ENV = { AD_ACCOUNT: '549757463328', TOKEN: 'pina_secret_token' };

describe('sync file validation', () => {
  it('accepts a valid file and fills defaults', () => {
    const loaded = parseSync(VALID, 'syncs/web_orders.yaml', { env: ENV });
    expect(loaded.problems).toEqual([]);
    expect(loaded.sync).toMatchObject({
      name: 'web_orders',
      destination: { ad_account_id: '549757463328', access_token: 'pina_secret_token', batch_size: 1000, concurrency: 'auto', test: false },
      options: { max_event_age: '7d', max_reject_rate: 0.05 },
    });
  });

  it('names file:line:col, the key, and a close match for unknown keys', () => {
    expect(problemsOf(VALID.replace('  cursor: updated_at', '  cusor: updated_at\n  colour: red'), ENV)).toEqual([
      "sync.yaml:6:3: source.cusor: unknown key 'cusor' in source; did you mean 'cursor'?",
      "sync.yaml:7:3: source.colour: unknown key 'colour' in source",
    ]);
    expect(problemsOf(`${VALID}shedule: "* * * * *"\n`, ENV)).toEqual([
      "sync.yaml:16:1: shedule: unknown key 'shedule'; did you mean 'schedule'?",
    ]);
  });

  it('reports every unset environment variable where it is used, never its would-be value', () => {
    expect(problemsOf(VALID)).toEqual([
      'sync.yaml:8:18: destination.ad_account_id: environment variable AD_ACCOUNT is not set (export it, or write ${AD_ACCOUNT:-default})',
      'sync.yaml:9:17: destination.access_token: environment variable TOKEN is not set (export it, or write ${TOKEN:-default})',
    ]);
  });

  it('uses ${NAME:-default} when the variable is unset', () => {
    const loaded = parseSync(VALID.replace('${AD_ACCOUNT}', '${AD_ACCOUNT:-123}'), 'sync.yaml', { env: { TOKEN: 't' } });
    expect(loaded.sync?.destination.ad_account_id).toBe('123');
  });

  it('does without destination credentials for preview', () => {
    const loaded = parseSync(VALID, 'sync.yaml', { env: {}, requireDestination: false });
    expect(loaded.problems).toEqual([]);
    expect(loaded.sync?.destination.access_token).toBeUndefined();
  });

  it('requires credentials for a run', () => {
    expect(problemsOf(VALID.replace(/destination:\n.*\n.*\n/, 'destination:\n  test: true\n'))).toEqual([
      "sync.yaml:8:3: destination.ad_account_id: missing required key 'ad_account_id' (use ${PINTEREST_AD_ACCOUNT_ID})",
      "sync.yaml:8:3: destination.access_token: missing required key 'access_token' (use ${PINTEREST_ACCESS_TOKEN})",
    ]);
  });

  it('needs a user identifier that can match', () => {
    expect(problemsOf(VALID.replace('  em: email', '  ph: phone\n  client_ip_address: ip'), ENV)).toEqual([
      'sync.yaml:11:3: match: a sync needs em, hashed_maids, or client_ip_address with client_user_agent',
    ]);
  });

  it('checks mapping targets, literals and forms, with hints', () => {
    const text = VALID
      .replace('event_name: { value: checkout }', 'event_name: { value: chekout }')
      .concat('  custom_data.valeu: total\n  user_data.em: email\n  custom_data.value: { colum: total }\n  custom_data.num_items: { value: two }\n');
    expect(problemsOf(text, ENV)).toEqual([
      "sync.yaml:13:24: mappings.event_name.value: 'chekout' is not one of add_payment_info, add_to_cart, add_to_wishlist, app_install, app_open, checkout, contact, custom, customize_product, find_location, initiate_checkout, lead, page_visit, schedule, search, signup, start_trial, submit_application, subscribe, view_category, view_content, watch_video; did you mean 'checkout'?",
      "sync.yaml:16:22: mappings.custom_data.valeu: unknown event field 'custom_data.valeu'; did you mean 'custom_data.value'?",
      'sync.yaml:17:17: mappings.user_data.em: user identifiers go under match: (match: { em: column })',
      "sync.yaml:18:22: mappings.custom_data.value.column: missing required key 'column'",
      "sync.yaml:18:24: mappings.custom_data.value.colum: unknown key 'colum' in mappings.custom_data.value; did you mean 'column'?",
      "sync.yaml:19:35: mappings.custom_data.num_items.value: 'two' is not a whole number",
    ]);
  });

  it('needs the required event fields mapped', () => {
    expect(problemsOf(VALID.replace('  event_time: completed_at\n', ''), ENV)).toEqual([
      'sync.yaml:13:3: mappings: mappings needs event_time (a column or { value: … })',
    ]);
  });

  it('checks source, destination and options values', () => {
    const text = VALID
      .replace('  table: orders', '  table: orders\n  query: select 1')
      .replace('  access_token: ${TOKEN}', '  access_token: ${TOKEN}\n  batch_size: 5000\n  concurrency: 0')
      .concat('options:\n  max_event_age: 7 days\n  default_country: XX\n  max_reject_rate: 2\n');
    expect(problemsOf(text, ENV)).toEqual([
      'sync.yaml:3:3: source: give exactly one of `table` or `query`',
      'sync.yaml:11:15: destination.batch_size: must be a whole number from 1 to 1000',
      'sync.yaml:12:16: destination.concurrency: must be a whole number from 1 to 64',
      'sync.yaml:20:18: options.max_event_age: a duration such as 90s, 15m, 2h, 7d or 1w',
      'sync.yaml:21:20: options.default_country: not an ISO 3166 country code',
      'sync.yaml:22:20: options.max_reject_rate: must be a number from 0 to 1',
    ]);
  });

  it('reads numbers and booleans from ${VAR} where the schema wants them (issue 20)', () => {
    const text = VALID.replace('  access_token: ${TOKEN}', '  access_token: ${TOKEN}\n  batch_size: ${BATCH:-500}\n  concurrency: ${CONC}\n  test: ${TEST:-true}');
    const loaded = parseSync(text, 'sync.yaml', { env: { ...ENV, CONC: '8' } });
    expect(loaded.problems.map(formatProblem)).toEqual([]);
    expect(loaded.sync?.destination).toMatchObject({ batch_size: 500, concurrency: 8, test: true });
    // A literal in quotes stays text, with a hint; text that is no number names the range.
    expect(problemsOf(text.replace('${BATCH:-500}', '"500"'), { ...ENV, CONC: '8' })).toEqual([
      'sync.yaml:10:15: destination.batch_size: must be a whole number from 1 to 1000, written without quotes',
    ]);
    expect(problemsOf(text, { ...ENV, CONC: 'many' })).toEqual([
      'sync.yaml:11:16: destination.concurrency: must be auto or a whole number from 1 to 64',
    ]);
    const postgres = VALID.replace('type: duckdb', 'type: postgres\n  port: ${PORT}\n  ssl: ${SSL}');
    const pg = parseSync(postgres, 'sync.yaml', { env: { ...ENV, PORT: '5433', SSL: 'false' } });
    expect(pg.problems).toEqual([]);
    expect(pg.sync?.source).toMatchObject({ port: 5433, ssl: false });
    // Where text is allowed (a mapped literal, the account id), the value stays text.
    const literal = parseSync(VALID.replace('{ value: web }', '{ value: "${SRC}" }'), 'sync.yaml', { env: { ...ENV, SRC: 'web' } });
    expect(literal.sync?.mappings.action_source).toEqual({ value: 'web' });
    expect(parseSync(VALID, 'sync.yaml', { env: ENV }).sync?.destination.ad_account_id).toBe('549757463328');
  });

  it('says which numbers are allowed for a huge or fractional one (issue 20)', () => {
    for (const huge of ['1e400', '99999999999999999999', '.inf', '2.5', '0']) {
      expect(problemsOf(VALID.replace('  access_token: ${TOKEN}', `  access_token: \${TOKEN}\n  batch_size: ${huge}`), ENV)).toEqual([
        'sync.yaml:10:15: destination.batch_size: must be a whole number from 1 to 1000',
      ]);
    }
    expect(problemsOf(VALID.replace('type: duckdb', 'type: postgres\n  port: 1e400'), ENV)).toEqual([
      'sync.yaml:4:9: source.port: must be a whole number from 1 to 65535',
    ]);
    expect(problemsOf(VALID.replace('type: duckdb', 'type: bigquery\n  project: p\n  maximum_bytes_billed: 1e400'), ENV)).toEqual([
      'sync.yaml:5:25: source.maximum_bytes_billed: must be a whole number of at least 1',
    ]);
    expect(problemsOf(VALID.replace('type: duckdb', 'type: postgres\n  ssl: maybe'), ENV)).toEqual([
      'sync.yaml:4:8: source.ssl: must be one of require, no-verify',
    ]);
  });

  it('lists the event names and suggests the nearest for a wrong literal (issue 20)', () => {
    const names = 'add_payment_info, add_to_cart, add_to_wishlist, app_install, app_open, checkout, contact, custom, customize_product, find_location, initiate_checkout, lead, page_visit, schedule, search, signup, start_trial, submit_application, subscribe, view_category, view_content, watch_video';
    expect(problemsOf(VALID.replace('{ value: checkout }', '{ value: purchase }'), ENV)).toEqual([
      `sync.yaml:13:24: mappings.event_name.value: 'purchase' is not one of ${names}; did you mean 'checkout'?`,
    ]);
    expect(problemsOf(VALID.replace('{ value: checkout }', '{ value: AddToCart }'), ENV)).toEqual([
      `sync.yaml:13:24: mappings.event_name.value: 'AddToCart' is not one of ${names}; did you mean 'add_to_cart'?`,
    ]);
    expect(problemsOf(VALID.replace('{ value: checkout }', '{ column: kind, map: { order: Purchase } }'), ENV)).toEqual([
      `sync.yaml:13:45: mappings.event_name.map.order: 'Purchase' is not one of ${names}; did you mean 'checkout'?`,
    ]);
  });

  it('checks currency literals against ISO 4217 (issue 20)', () => {
    expect(problemsOf(VALID.replace('  event_time: completed_at', '  event_time: completed_at\n  custom_data.currency: { value: DOLLARS }'), ENV)).toEqual([
      "sync.yaml:16:34: mappings.custom_data.currency.value: 'DOLLARS' is not an ISO 4217 currency code such as USD or EUR",
    ]);
    const lower = parseSync(VALID.replace('  event_time: completed_at', '  event_time: completed_at\n  custom_data.currency: { column: cur, default: eur }'), 'sync.yaml', { env: ENV });
    expect(lower.problems).toEqual([]);
  });

  it('refuses a URL whose password needs percent-encoding, without showing it (issue 20)', () => {
    const pg = VALID.replace('type: duckdb', 'type: postgres\n  url: ${WAREHOUSE_URL}');
    for (const url of ['postgres://loader:s3cr#tpw@db.example.com/shop', 'postgres://loader:s3cr/tpw@db.example.com/shop', 'postgres://loader:123#tpw@db.example.com/shop', 'postgres://loader:12/tpw@db.example.com/shop', 'postgres://loader:1?tpw@db.example.com/shop']) {
      const problems = problemsOf(pg, { ...ENV, WAREHOUSE_URL: url });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^sync\.yaml:4:8: source\.url: .*percent-encode special characters in the user name and password \(# as %23, \/ as %2F/);
      expect(problems[0]).not.toContain('tpw');
    }
    expect(problemsOf(pg, { ...ENV, WAREHOUSE_URL: 'postgres://loader:s3cr%23tpw@db.example.com:5432/shop?sslmode=require' })).toEqual([]);
    expect(problemsOf(pg, { ...ENV, WAREHOUSE_URL: 'postgres://loader:p@ss@db.example.com/shop' })).toEqual([]);
    // What the pg driver reads is fine: a raw @ or %, a space, a socket host, an empty host with ?host=.
    for (const url of ['postgres://loader:50%off @db.example.com/shop', 'postgresql://loader:pw@/shop?host=/cloudsql/p:r:i', 'postgres://%2Fvar%2Frun%2Fpostgresql/shop', 'postgres:///shop', 'socket:/var/run/pg?db=shop']) {
      expect(problemsOf(pg, { ...ENV, WAREHOUSE_URL: url }), url).toEqual([]);
    }
  });

  it('refuses a column that match hashes in any field sent or stored in clear (issue 20)', () => {
    const hint = 'use another column, or, if it already holds SHA-256 hex, list it in options.hashed_columns';
    expect(problemsOf(VALID.replace('primary_key: order_id', 'primary_key: email'), ENV)).toEqual([
      `sync.yaml:5:16: source.primary_key: column 'email' is hashed for match.em, so it cannot also be the primary key (it names rows in rejects, status and state) in clear: ${hint}`,
    ]);
    const mapped = VALID
      .replace('  em: email', '  em: email\n  ph: [phone, mobile]\n  external_id: customer_id\n  client_ip_address: ip')
      .replace('  event_time: completed_at', '  event_time: completed_at\n  event_id: Email\n  custom_data.content_name: { column: mobile, default: x }\n  custom_data.order_id: customer_id\n  event_source_url: ip');
    expect(problemsOf(mapped, ENV)).toEqual([
      `sync.yaml:19:13: mappings.event_id: column 'Email' is hashed for match.em, so it cannot also be sent as event_id in clear: ${hint}`,
      `sync.yaml:20:39: mappings.custom_data.content_name.column: column 'mobile' is hashed for match.ph, so it cannot also be sent as custom_data.content_name in clear: ${hint}`,
      `sync.yaml:21:25: mappings.custom_data.order_id: column 'customer_id' is hashed for match.external_id, so it cannot also be sent as custom_data.order_id in clear: ${hint}`,
    ]);
    // Declared digests may: each row's value is checked when it is mapped.
    const declared = `${VALID.replace('primary_key: order_id', 'primary_key: email_sha256').replace('em: email', 'em: email_sha256')}options:\n  hashed_columns: [email_sha256]\n`;
    expect(problemsOf(declared, ENV)).toEqual([]);
  });

  it('names the allowed source types', () => {
    expect(problemsOf(VALID.replace('type: duckdb', 'type: dukdb'), ENV)).toEqual([
      "sync.yaml:3:9: source.type: must be one of duckdb, postgres, bigquery, snowflake, redshift; did you mean 'duckdb'?",
    ]);
  });

  it('reports wrong value types and missing keys', () => {
    expect(problemsOf(VALID.replace('  primary_key: order_id', '  primary_key: [order_id]').replace('match:\n  em: email\n', 'match:\n  em: { col: email }\n'), ENV)).toEqual([
      'sync.yaml:5:16: source.primary_key: expected string, got a list',
      'sync.yaml:11:7: match.em: a match key takes a column name or a list of column names',
    ]);
    expect(problemsOf('version: 1\n', ENV)).toEqual([
      "sync.yaml:1:1: source: missing required key 'source'",
      "sync.yaml:1:1: match: missing required key 'match'",
      "sync.yaml:1:1: mappings: missing required key 'mappings'",
      "sync.yaml:1:1: destination: missing required section 'destination' (ad_account_id, access_token)",
    ]);
  });

  it('explains mistakes that are easy to make', () => {
    const text = VALID
      .replace('version: 1', 'version: "1"')
      .replace('event_name: { value: checkout }', 'event_name: { value: checkout, column: kind }')
      .concat('  custom_data: total\n  custom_data.contents: { column: items, fields: { sku: id } }\n')
      .concat('schedule: every hour\ntimezone: Mars/Olympus\noptions:\n  max_event_age: 0s\n');
    expect(problemsOf(text, ENV)).toEqual([
      'sync.yaml:1:10: version: must be 1',
      'sync.yaml:13:15: mappings.event_name: give either `value` (a literal) or `column`, not both',
      'sync.yaml:16:16: mappings.custom_data: custom_data is a group of fields: map each one, e.g. custom_data.currency',
      "sync.yaml:17:57: mappings.custom_data.contents.fields.sku: 'sku' is not a contents item field (id, item_price, quantity, item_name, item_category, item_brand)",
      'sync.yaml:18:11: schedule: not a cron expression (five fields: minute hour day month weekday, e.g. "*/30 * * * *")',
      'sync.yaml:19:11: timezone: not an IANA time zone such as Europe/Berlin',
      'sync.yaml:21:18: options.max_event_age: must be longer than 0s',
    ]);
  });

  it('reports malformed environment references instead of using them as values', () => {
    const text = VALID.replace('${TOKEN}', '${ TOKEN }').replace('${AD_ACCOUNT}', '${AD-ACCOUNT}');
    expect(problemsOf(text, ENV)).toEqual([
      'sync.yaml:8:18: destination.ad_account_id: malformed environment reference: write ${NAME} (letters, digits and _) or ${NAME:-fallback}',
      'sync.yaml:9:17: destination.access_token: malformed environment reference: write ${NAME} (letters, digits and _) or ${NAME:-fallback}',
    ]);
  });

  it('reports a consequence of an unset variable only once', () => {
    expect(problemsOf(VALID.replace('em: email', 'em: ${EMAIL_COLUMN}'), ENV)).toEqual([
      'sync.yaml:11:7: match.em: environment variable EMAIL_COLUMN is not set (export it, or write ${EMAIL_COLUMN:-default})',
    ]);
  });

  it('turns YAML alias errors into problems with a position', () => {
    expect(problemsOf(`${VALID}name: *nowhere\n`, ENV)).toEqual([expect.stringMatching(/^sync\.yaml:16:7: .*alias/i)]);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcdefghi'[i]}`).join(', ')}]`)].join('\n');
    expect(problemsOf(bomb, ENV)[0]).toMatch(/^sync\.yaml:\d+:\d+: .*alias/i);
  });

  it('reports YAML syntax errors with their position', () => {
    expect(problemsOf('source:\n  type: duckdb\n  table: [t\n', ENV)[0]).toMatch(/^sync\.yaml:4:1: Flow sequence/);
    expect(problemsOf(`${VALID}source: {}\n`, ENV)).toEqual(['sync.yaml:16:1: Map keys must be unique']);
    expect(problemsOf('- a\n- b\n', ENV)).toEqual(['sync.yaml:1:1: a sync file is a YAML mapping (version, source, match, mappings, …)']);
  });

  it('never includes a secret in a problem', () => {
    const text = VALID.replace('access_token: ${TOKEN}', 'access_token: ${TOKEN}\n  batch_size: "${TOKEN}"')
      .concat('  custom_data.num_items: { value: "${TOKEN}" }\n');
    const all = problemsOf(text, ENV).join('\n');
    expect(all).toContain('destination.batch_size');
    // The literal check would quote the value; the token is masked instead.
    expect(all).toContain("mappings.custom_data.num_items.value: '***' is not a whole number");
    expect(all).not.toContain(ENV.TOKEN);
  });
});

describe('JSON Schema', () => {
  const schema = syncJsonSchema();
  const ajv = new Ajv2020({ strict: false });
  const validate = ajv.compile(schema);

  it('accepts the shipped example sync file', () => {
    const example = parseYaml(readFileSync(new URL('../../syncs/example.yaml', import.meta.url), 'utf8'));
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
  });

  it('rejects unknown keys and bad values, as the loader does', () => {
    const base = parseYaml(VALID.replace(/\$\{\w+\}/g, '"1"'));
    expect(validate(base)).toBe(true);
    expect(validate({ ...base, colour: 'red' })).toBe(false);
    expect(validate({ ...base, destination: { batch_size: 5000 } })).toBe(false);
    expect(validate({ ...base, source: { ...base.source, type: 'oracle' } })).toBe(false);
  });
});
