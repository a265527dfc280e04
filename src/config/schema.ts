// The sync file (version 1). One zod schema serves validation, the TypeScript types,
// and `pinsync schema` (JSON Schema for editors).
import { z } from 'zod';
import { HASHED_USER_KEYS, USER_KEYS, type UserKey } from '../core/event-schema.js';
import { CONTENT_ITEM_FIELDS, EVENT_FIELDS, fieldConverter, REQUIRED_EVENT_FIELDS } from '../core/fields.js';
import { isCountryCode } from '../core/countries.js';
import { Cron } from 'croner';
import { DURATION_PATTERN, parseDuration } from './duration.js';
import { suggest } from '../core/suggest.js';
import { Invalid } from '../core/convert.js';
import { postgresUrlProblem } from './postgres-url.js';

function isCron(expression: string): boolean {
  try {
    new Cron(expression, { paused: true });
    return true;
  } catch {
    return false;
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const duration = z.string().regex(DURATION_PATTERN, 'a duration such as 90s, 15m, 2h, 7d or 1w');
const columnName = z.string().min(1, 'a column name');
const literal = z.union([z.string(), z.number(), z.boolean()]);

const sourceCommon = {
  table: z.string().min(1).optional().describe('Table or view to read, optionally `schema.table`. Give `table` or `query`, not both.'),
  query: z.string().min(1).optional().describe('One SQL `SELECT` that only reads (with DuckDB it may read files: `read_csv`, `read_parquet`, `read_json`); anything else is refused at `source.query` before it runs. Give `table` or `query`, not both.'),
  primary_key: columnName.default('event_id').describe('Column unique per row: names rows in rejects, breaks ties in reading order, and is the default `event_id`. A key that repeats sends one event per value and rejects the rest.'),
  cursor: columnName.optional().describe('Incremental column: a timestamp, a date or an integer (text is refused). Rows are read in (`cursor`, `primary_key`) order, and each run reads only rows after the checkpoint. Omit it and every run reads every row.'),
  lookback: duration.optional().describe('Re-read this window before the checkpoint on every run, for rows that land late (e.g. `2h`); needs a timestamp or date cursor.'),
};

export const duckdbSourceSchema = z.strictObject({
  type: z.literal('duckdb'),
  path: z.string().min(1).optional().describe('DuckDB database file, opened read-only; a relative path is resolved from the sync file\'s folder. Omit it for an in-memory database whose `query` reads files.'),
  ...sourceCommon,
});

export const postgresSourceSchema = z.strictObject({
  type: z.literal('postgres'),
  url: z.string().min(1).optional().describe('Connection string, e.g. `${WAREHOUSE_URL}` (`postgres://user:password@host:5432/db`); a password in it must be percent-encoded. Never printed.'),
  host: z.string().min(1).optional().describe('Server host, instead of `url`. With none of `url`, `host`, `port`, `database`, `user`, `password`, the standard `PG*` environment variables apply.'),
  port: z.number().int().min(1).max(65535).optional().describe('Server port, instead of `url`.'),
  database: z.string().min(1).optional().describe('Database name, instead of `url`.'),
  user: z.string().min(1).optional().describe('Role to connect as, instead of `url`.'),
  password: z.string().optional().describe('Password, instead of `url`; write `${ENV_VAR}`. Never printed.'),
  ssl: z.union([z.boolean(), z.enum(['require', 'no-verify'])]).optional()
    .describe('`true` or `require`: TLS with certificate checks; `no-verify`: TLS without them.'),
  ...sourceCommon,
});

export const bigquerySourceSchema = z.strictObject({
  type: z.literal('bigquery'),
  project: z.string().min(1).describe('Google Cloud project that runs (and pays for) the query jobs.'),
  dataset: z.string().min(1).optional().describe('Default dataset for a table name without one.'),
  location: z.string().min(1).optional().describe('Where the data lives, e.g. `US`, `EU`, `europe-west3`.'),
  credentials_file: z.string().min(1).optional().describe('Service-account key file, relative to the sync file. Default: Application Default Credentials.'),
  maximum_bytes_billed: z.union([z.number().int().positive(), z.string().regex(/^\d+$/, 'a whole number of bytes')]).optional()
    .describe('BigQuery refuses a query that would bill more than this many bytes, so a mistake fails instead of billing.'),
  job_timeout: duration.default('10m').describe('How long a query job may run.'),
  page_timeout: duration.default('2m').describe('How long to wait for one page of results.'),
  ...sourceCommon,
});

export const snowflakeSourceSchema = z.strictObject({
  type: z.literal('snowflake'),
  account: z.string().min(1).describe('Account identifier, e.g. `myorg-myaccount` (as in `https://myorg-myaccount.snowflakecomputing.com`), or `${SNOWFLAKE_ACCOUNT}`.'),
  user: z.string().min(1).optional().describe('User to connect as (a service user, usually). Needed with `private_key_file` and `password`.'),
  private_key_file: z.string().min(1).optional().describe('Key-pair authentication (the usual choice for service users): the PEM private key file, relative to the sync file. Give one of `private_key_file`, `password`, `oauth_token`.'),
  private_key_passphrase: z.string().optional().describe('Passphrase of an encrypted private key; write `${ENV_VAR}`. Never printed.'),
  password: z.string().optional().describe('Password authentication; write `${ENV_VAR}`. Never printed.'),
  oauth_token: z.string().min(1).optional().describe('OAuth access token authentication; write `${ENV_VAR}`. Never printed.'),
  warehouse: z.string().min(1).optional().describe('Virtual warehouse that runs (and pays for) the query. Default: the user\'s default warehouse.'),
  database: z.string().min(1).optional().describe('Database for a table name without one. Default: the user\'s default.'),
  schema: z.string().min(1).optional().describe('Schema for a table name without one. Default: the user\'s default.'),
  role: z.string().min(1).optional().describe('Role to use. Default: the user\'s default role.'),
  statement_timeout: duration.default('10m').describe('How long Snowflake may run the query (STATEMENT_TIMEOUT_IN_SECONDS) before it cancels it.'),
  ...sourceCommon,
});

export const redshiftSourceSchema = z.strictObject({
  type: z.literal('redshift'),
  url: z.string().min(1).optional().describe('Connection string, e.g. `${REDSHIFT_URL}` (`postgres://user:password@cluster.abc123.us-east-1.redshift.amazonaws.com:5439/dev`); a password in it must be percent-encoded. Never printed.'),
  host: z.string().min(1).optional().describe('Cluster or workgroup endpoint host, instead of `url`.'),
  port: z.number().int().min(1).max(65535).optional().describe('Port, instead of `url` (Redshift\'s default: 5439).'),
  database: z.string().min(1).optional().describe('Database name, instead of `url`.'),
  user: z.string().min(1).optional().describe('User to connect as, instead of `url`.'),
  password: z.string().optional().describe('Password, instead of `url`; write `${ENV_VAR}`. Never printed.'),
  ssl: z.union([z.boolean(), z.enum(['require', 'no-verify'])]).default(true)
    .describe('`true` (default) or `require`: TLS with certificate checks; `no-verify`: TLS without them; `false`: no TLS.'),
  ...sourceCommon,
});

export const sourceSchema = z.discriminatedUnion('type', [duckdbSourceSchema, postgresSourceSchema, bigquerySourceSchema, snowflakeSourceSchema, redshiftSourceSchema]);
export const SOURCE_TYPES = ['duckdb', 'postgres', 'bigquery', 'snowflake', 'redshift'] as const;
export const SYNC_KINDS = ['events', 'audience'] as const;
/** The match keys an audience sync may use, and the customer list type each one sets. */
export const AUDIENCE_LIST_TYPES = { em: 'EMAIL', hashed_maids: 'MAID' } as const;
export type AudienceMatchKey = keyof typeof AUDIENCE_LIST_TYPES;

/** Identifiers per customer-list request by default, and at most (docs/audiences.md says why). */
export const AUDIENCE_RECORDS_PER_REQUEST = 10_000;
export const AUDIENCE_MAX_RECORDS_PER_REQUEST = 100_000;
/** The largest share of a customer list one run may remove without --allow-removals, by default. */
export const DEFAULT_MAX_REMOVAL_RATE = 0.3;

/** The most requests in flight for one sync: `concurrency: auto`'s cap, and a pinned value's. */
export const MAX_CONCURRENCY = 64;

export const destinationSchema = z.strictObject({
  ad_account_id: z
    .union([z.string().regex(/^(\d+|\$\{[^}]+\})$/, 'digits only, as shown in Ads Manager'), z.number().int().positive()])
    .optional()
    .describe('Pinterest ad account id (digits), e.g. `${PINTEREST_AD_ACCOUNT_ID}`.'),
  access_token: z.string().min(1).optional().describe('Event syncs: a conversion access token (or an OAuth token with ads:write); audience syncs: an OAuth access token with ads:write, which customer lists need. Write `${PINTEREST_ACCESS_TOKEN}`. Never printed, logged or stored.'),
  test: z.boolean().default(false).describe('Send with `?test=true`: Pinterest validates the events but does not record them. A test-mode run still advances the checkpoint (but records nothing in the ledger): after switching to live, `pinsync reset SYNC` sends everything for real.'),
  batch_size: z.number().int().min(1).max(1000).default(1000).describe('Events per request.'),
  concurrency: z.union([z.literal('auto'), z.number().int().min(1).max(MAX_CONCURRENCY)]).default('auto')
    .describe(`Requests in flight at once. \`auto\` (default): starts at 4 and adapts between 1 and ${MAX_CONCURRENCY}, growing while answers are healthy and the requests in flight are all in use, cutting on 429, 5xx, timeouts and rising latency. A number pins it.`),
  max_requests_per_minute: z.number().int().min(1).max(120_000).optional()
    .describe('Requests a minute to this ad account, shared by every sync this process sends to it (the lowest value among the syncs sending at the moment wins). Default: 5,000, the Conversions API\'s limit in Pinterest\'s OpenAPI description (in test mode 600, and never more, whatever this says: Pinterest limits test requests to 10 a second per app, so they share one budget whatever the ad account). A 429 lowers the pace for a while, whatever this says. Audience syncs: customer-list writes a minute (Pinterest\'s ads_write limit), default 300.'),
  timeout: duration.default('30s').describe('Per request: how long Pinterest may take for its whole answer, headers and body, before the request is retried (an answer that trickles in a byte at a time is cut off too).'),
  max_retry_time: duration.default('10m').describe('How long one batch may take in all (its retries of 429, 5xx, malformed answers and network errors, its splits, and the attempt in progress) before the run fails; a `Retry-After` longer than what is left fails the run at once.'),
  customer_list: z.union([
    z.strictObject({ name: z.string().trim().min(1).max(255).describe('The list\'s name: the first run adopts the ad account\'s list of this name, or creates it.') }),
    z.strictObject({ id: z.union([z.string().regex(/^(\d+|\$\{[^}]+\})$/, 'digits only'), z.number().int().positive()]).describe('An existing list\'s id (digits).') }),
  ]).optional().describe('`kind: audience` only. The Pinterest customer list the sync keeps equal to its query: `{ name: VIP customers }` (created on the first run if the ad account has none of that name) or `{ id: "123" }`.'),
  audience: z.strictObject({ name: z.string().trim().min(1).max(255).describe('The audience\'s name.') }).optional()
    .describe('`kind: audience` only. Also make the list targetable: the first run creates a `CUSTOMER_LIST` audience of this name on the list (or adopts the one already on it).'),
  records_per_request: z.number().int().min(1).max(AUDIENCE_MAX_RECORDS_PER_REQUEST).optional()
    .describe(`\`kind: audience\` only. Identifiers per customer-list request (default ${AUDIENCE_RECORDS_PER_REQUEST.toLocaleString('en-US')}; see docs/audiences.md for why).`),
});

const columns = z.union([columnName, z.array(columnName).min(1)]);
export const matchSchema = z
  .strictObject(Object.fromEntries(USER_KEYS.map((k) => [k, columns.optional()])) as Record<UserKey, z.ZodOptional<typeof columns>>)
  .describe('User identifiers: Pinterest `user_data` keys mapped to columns (a column or a list of columns).');

const valueMap = z.record(z.string(), z.union([literal, z.null()]));
export const mappingSchema = z.union([
  columnName.describe('A column name.'),
  z.strictObject({ value: literal.describe('A literal value, the same for every event.') }),
  z.strictObject({
    column: columnName.describe('The column whose value becomes the field.'),
    map: valueMap.optional().describe('Replace column values: { source value: event value }; null omits the field.'),
    default: literal.optional().describe('Used when the column is null or, with `map`, holds a value the map does not list.'),
    fields: z.record(z.string(), columnName).optional().describe('For custom_data.contents: item field -> key in each source item.'),
  }),
]);

export const skipSchema = z.record(columnName, z.array(z.union([literal, z.null()])).min(1, 'a list of values, e.g. [test, internal]'))
  .describe('Rows to leave out on purpose, by column value: `{ column: [values] }`. Counted as skipped, never as rejects; `null` matches a null column.');

export const notifySchema = z.strictObject({
  webhook: z.string().regex(/^(https?:\/\/|\$\{)/, 'an http(s) URL').optional()
    .describe('POST a JSON summary here when a run fails or rejects more than `options.max_reject_rate`. Treated as a secret.'),
});

export const optionsSchema = z.strictObject({
  default_country: z
    .string()
    .regex(/^[A-Za-z]{2}$/, 'a two-letter ISO 3166 country code such as US')
    .refine(isCountryCode, 'not an ISO 3166 country code')
    .optional()
    .describe('ISO 3166 country for phone numbers written without a country code (e.g. `US`).'),
  max_event_age: duration.refine((d) => !DURATION_PATTERN.test(d) || parseDuration(d) > 0, 'must be longer than 0s').default('7d').describe('Older events are rejected locally, before any request (Pinterest does not accept old events).'),
  max_reject_rate: z.number().min(0).max(1).default(0.05).describe('Share of the rows a run reads that may be rejected; above it, the command exits 3. Rows read again that were settled before, and rows skipped on purpose, do not count.'),
  hashed_columns: z.array(columnName).optional()
    .describe('Columns that already hold SHA-256 hex. A column a hashed `match` key reads (`em`, `ph`, …) may be used in clear (`primary_key`, `event_id`, any mapping) only when listed here, and then each row\'s value must be 64 hex characters or the row is rejected.'),
  max_removal_rate: z.number().min(0).max(1).optional()
    .describe(`\`kind: audience\` only. A run that would remove more than this share of the list (default ${DEFAULT_MAX_REMOVAL_RATE}), or empty a list, sends nothing and exits 3, unless \`run --allow-removals\`.`),
});

export const syncSchema = z
  .strictObject({
    version: z.literal(1).default(1).describe('Sync file format version; only `1` exists.'),
    kind: z.enum(SYNC_KINDS).default('events')
      .describe('`events` (default): send conversion events. `audience`: keep a Pinterest customer list equal to the query (docs/audiences.md).'),
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, _ . - only').optional()
      .describe('Unique sync name; state is keyed on it. Letters, digits, `_ . -`. Default: the file name without `.yaml`.'),
    schedule: z.string().refine(isCron, 'not a cron expression (five fields: minute hour day month weekday, e.g. "*/30 * * * *")').optional()
      .describe('Cron schedule (five fields, or six with seconds), UTC unless `timezone` is given; used by `run --due` and `pinsync schedule`.'),
    timezone: z.string().refine(isTimeZone, 'not an IANA time zone such as Europe/Berlin').optional()
      .describe('IANA time zone of `schedule`, e.g. `Europe/Berlin`.'),
    source: sourceSchema.describe('Where rows come from.'),
    destination: destinationSchema.default({ test: false, batch_size: 1000, concurrency: 'auto', timeout: '30s', max_retry_time: '10m' })
      .describe('The Pinterest ad account and token. Needed by `validate` and runs, not by `preview`.'),
    match: matchSchema,
    mappings: z.record(z.string(), mappingSchema).default({}).describe('Events only. Event fields mapped to columns or literals: `{ field: column }`, `{ value: literal }`, or `{ column, map, default, fields }`.'),
    skip: skipSchema.optional(),
    notify: notifySchema.optional().describe('`webhook: URL`: where to POST a JSON summary when a run fails or rejects too much. `PINSYNC_WEBHOOK` sets one for every sync.'),
    options: optionsSchema.default({ max_event_age: '7d', max_reject_rate: 0.05 }).describe('Normalization and validation settings.'),
  });

export interface SchemaProblem {
  path: PropertyKey[];
  message: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Checks that span keys. They run on the raw data even when the schema found problems
 * elsewhere, so a user sees every problem of a file at once.
 */
export function crossCheck(data: Record<string, unknown>): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const source = isObject(data.source) ? data.source : undefined;
  if (source && (source.table === undefined) === (source.query === undefined)) {
    problems.push({ path: ['source'], message: 'give exactly one of `table` or `query`' });
  }
  if ((source?.type === 'postgres' || source?.type === 'redshift') && typeof source.url === 'string' && source.url !== '') {
    const problem = postgresUrlProblem(source.url);
    if (problem) problems.push({ path: ['source', 'url'], message: problem });
  }
  if (source?.type === 'snowflake') {
    const given = ['private_key_file', 'password', 'oauth_token'].filter((k) => source[k] !== undefined);
    if (given.length !== 1) {
      problems.push({ path: ['source'], message: given.length === 0
        ? 'give one way to authenticate: private_key_file (key pair, for service users), password, or oauth_token'
        : `give one way to authenticate, not ${given.join(' and ')}` });
    }
    if (source.user === undefined && source.oauth_token === undefined) {
      problems.push({ path: ['source'], message: 'give the `user` to connect as' });
    }
    if (source.private_key_passphrase !== undefined && source.private_key_file === undefined) {
      problems.push({ path: ['source', 'private_key_passphrase'], message: 'a passphrase goes with private_key_file' });
    }
  }
  if (source && source.lookback !== undefined && source.cursor === undefined) {
    problems.push({ path: ['source', 'lookback'], message: 'lookback re-reads a window before the checkpoint, so it needs a `cursor`' });
  }
  const match = isObject(data.match) ? data.match : undefined;
  if (data.kind === 'audience') return [...problems, ...audienceChecks(data, source, match), ...identifiersInClear(data, source, match, {})];
  problems.push(...eventsOnly(data));
  if (match && !match.em && !match.hashed_maids && !(match.client_ip_address && match.client_user_agent)) {
    problems.push({ path: ['match'], message: 'a sync needs em, hashed_maids, or client_ip_address with client_user_agent' });
  }
  const mappings = isObject(data.mappings) ? data.mappings : undefined;
  if (!mappings) {
    if (data.mappings === undefined) problems.push({ path: ['mappings'], message: "missing required key 'mappings'" });
    return problems;
  }
  for (const [target, mapping] of Object.entries(mappings)) {
    if (target.startsWith('user_data.')) {
      problems.push({ path: ['mappings', target], message: `user identifiers go under match: (match: { ${target.slice(10)}: column })` });
      continue;
    }
    const field = EVENT_FIELDS.get(target);
    if (!field && [...EVENT_FIELDS.keys()].some((k) => k.startsWith(`${target}.`))) {
      problems.push({ path: ['mappings', target], message: `${target} is a group of fields: map each one, e.g. ${[...EVENT_FIELDS.keys()].find((k) => k.startsWith(`${target}.`))}` });
      continue;
    }
    if (!field) {
      const hint = suggest(target, EVENT_FIELDS.keys());
      problems.push({ path: ['mappings', target], message: `unknown event field '${target}'${hint ? `; did you mean '${hint}'?` : ''}` });
      continue;
    }
    if (!isObject(mapping)) continue;
    if ('value' in mapping && 'column' in mapping) {
      problems.push({ path: ['mappings', target], message: 'give either `value` (a literal) or `column`, not both' });
      continue;
    }
    if (mapping.fields !== undefined && field.kind !== 'contents') {
      problems.push({ path: ['mappings', target, 'fields'], message: '`fields` applies only to custom_data.contents' });
    }
    if (isObject(mapping.fields)) {
      for (const itemField of Object.keys(mapping.fields)) {
        if (CONTENT_ITEM_FIELDS.has(itemField)) continue;
        const hint = suggest(itemField, CONTENT_ITEM_FIELDS.keys());
        problems.push({ path: ['mappings', target, 'fields', itemField], message: `'${itemField}' is not a contents item field (${[...CONTENT_ITEM_FIELDS.keys()].join(', ')})${hint ? `; did you mean '${hint}'?` : ''}` });
      }
    }
    // Literals are checked now, so a typo fails validation rather than every row.
    const literals: [PropertyKey[], unknown][] = [];
    if ('value' in mapping) literals.push([['value'], mapping.value]);
    if (mapping.default !== undefined) literals.push([['default'], mapping.default]);
    if (isObject(mapping.map)) {
      for (const [from, to] of Object.entries(mapping.map)) if (to !== null) literals.push([['map', from], to]);
    }
    const convert = fieldConverter(field, undefined, true);
    for (const [p, value] of literals) {
      if (value === null || typeof value === 'object') continue;
      const converted = convert(value);
      if (converted instanceof Invalid) problems.push({ path: ['mappings', target, ...p], message: converted.message });
    }
  }
  problems.push(...identifiersInClear(data, source, match, mappings));
  for (const required of REQUIRED_EVENT_FIELDS) {
    if (required === 'event_id' || mappings[required] !== undefined) continue;
    problems.push({ path: ['mappings'], message: `mappings needs ${required} (a column or { value: … })` });
  }
  return problems;
}

const AUDIENCE_DESTINATION_KEYS = ['customer_list', 'audience', 'records_per_request'] as const;

/** Keys that only an audience sync reads: an event sync that has them was most likely meant to be one. */
function eventsOnly(data: Record<string, unknown>): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const destination = isObject(data.destination) ? data.destination : {};
  for (const key of AUDIENCE_DESTINATION_KEYS) {
    if (destination[key] !== undefined) problems.push({ path: ['destination', key], message: `${key} is for customer lists: add \`kind: audience\`, or remove it` });
  }
  const options = isObject(data.options) ? data.options : {};
  if (options.max_removal_rate !== undefined) problems.push({ path: ['options', 'max_removal_rate'], message: 'max_removal_rate is for customer lists: add `kind: audience`, or remove it' });
  return problems;
}

/** An audience sync: one identifier, a customer list, no events, no cursor. */
function audienceChecks(data: Record<string, unknown>, source: Record<string, unknown> | undefined, match: Record<string, unknown> | undefined): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  if (source?.cursor !== undefined) {
    problems.push({ path: ['source', 'cursor'], message: 'an audience sync reads its whole query on every run (membership has no cursor): remove cursor' });
  }
  if (match) {
    const keys = Object.keys(match).filter((k) => match[k] !== undefined);
    const allowed = Object.keys(AUDIENCE_LIST_TYPES);
    const others = keys.filter((k) => !allowed.includes(k));
    if (others.length > 0) {
      problems.push({ path: ['match', others[0]!], message: `a customer list matches on one identifier, em (EMAIL list) or hashed_maids (MAID list), not ${others.join(', ')}` });
    } else if (keys.length !== 1) {
      problems.push({ path: ['match'], message: keys.length === 0 ? 'an audience sync needs one identifier: em (an EMAIL list) or hashed_maids (a MAID list)' : 'a customer list has one type: give em or hashed_maids, not both (one sync per list)' });
    }
  }
  if (isObject(data.mappings) && Object.keys(data.mappings).length > 0) {
    problems.push({ path: ['mappings'], message: 'an audience sync sends no events: remove mappings (the identifiers go under match:)' });
  }
  const destination = isObject(data.destination) ? data.destination : undefined;
  if (destination?.customer_list === undefined) {
    problems.push({ path: destination ? ['destination'] : [], message: 'an audience sync needs destination.customer_list: { name: LIST NAME } (created on the first run) or { id: "LIST ID" }' });
  }
  for (const key of ['batch_size', 'test', 'concurrency'] as const) {
    if (destination?.[key] === undefined) continue;
    const why = key === 'batch_size' ? 'its size is records_per_request'
      : key === 'test' ? 'customer lists have no test mode: `pinsync preview` shows what a run would change'
        : 'customer-list requests go one at a time';
    problems.push({ path: ['destination', key], message: `${key} is for event syncs (${why}): remove it` });
  }
  return problems;
}

/**
 * A column that match hashes (an email, a phone) must not also go out, or into rejects and
 * state, in clear: as the primary key, the event id or any mapped field. A column that
 * already holds SHA-256 hex may, once listed in options.hashed_columns (checked on every row).
 */
function identifiersInClear(
  data: Record<string, unknown>, source: Record<string, unknown> | undefined, match: Record<string, unknown> | undefined, mappings: Record<string, unknown>,
): SchemaProblem[] {
  if (!match) return [];
  const hashedBy = new Map<string, string>();
  for (const key of HASHED_USER_KEYS) {
    const cols = match[key];
    for (const col of Array.isArray(cols) ? cols : [cols]) if (typeof col === 'string') hashedBy.set(col.toLowerCase(), key);
  }
  const options = isObject(data.options) ? data.options : {};
  const declared = new Set((Array.isArray(options.hashed_columns) ? options.hashed_columns : []).map((c) => String(c).toLowerCase()));
  const problems: SchemaProblem[] = [];
  const check = (column: unknown, path: PropertyKey[], what: string) => {
    if (typeof column !== 'string') return;
    const key = hashedBy.get(column.toLowerCase());
    if (key === undefined || declared.has(column.toLowerCase())) return;
    problems.push({
      path,
      message: `column '${column}' is hashed for match.${key}, so it cannot also be ${what} in clear: use another column, or, if it already holds SHA-256 hex, list it in options.hashed_columns`,
    });
  };
  const primaryKey = source?.primary_key ?? 'event_id';
  check(primaryKey, source?.primary_key !== undefined ? ['source', 'primary_key'] : ['source'], 'the primary key (it names rows in rejects, status and state)');
  for (const [target, mapping] of Object.entries(mappings)) {
    if (!EVENT_FIELDS.has(target)) continue; // reported as an unknown target already
    const column = typeof mapping === 'string' ? mapping : isObject(mapping) ? mapping.column : undefined;
    check(column, typeof mapping === 'string' ? ['mappings', target] : ['mappings', target, 'column'], `sent as ${target}`);
  }
  return problems;
}

export type SyncDefinition = z.output<typeof syncSchema> & {
  /** Resolved sync name (explicit, or the file name). */
  name: string;
  /** Absolute path of the sync file. */
  file: string;
};
export type SourceConfig = z.output<typeof sourceSchema>;
export type DuckdbSourceConfig = z.output<typeof duckdbSourceSchema>;
export type PostgresSourceConfig = z.output<typeof postgresSourceSchema>;
export type BigquerySourceConfig = z.output<typeof bigquerySourceSchema>;
export type SnowflakeSourceConfig = z.output<typeof snowflakeSourceSchema>;
export type RedshiftSourceConfig = z.output<typeof redshiftSourceSchema>;
export type MappingSpec = z.output<typeof mappingSchema>;

/** JSON Schema of the sync file, for editors (yaml-language-server and the like). */
export function syncJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(syncSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, title: 'pinsync sync file (version 1)' };
}
