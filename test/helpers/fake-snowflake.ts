// A stand-in for Snowflake's REST API on 127.0.0.1, for the official Node driver (snowflake-sdk,
// pointed at it with `accessUrl: fake.url`). Tables live in an in-process DuckDB; queries are
// translated from Snowflake SQL as pinsync writes it and answered in Snowflake's JSON result format
// (rowtype + rowset inline, the rest as chunks the driver downloads from this same server).
//
// Endpoints: POST /session/v1/login-request (password, SNOWFLAKE_JWT, OAUTH), POST
// /queries/v1/query-request, GET /queries/<id>/result (the asynchronous path, code 333334),
// GET /chunks/<id>/<n>, POST /session?delete=true, /session/heartbeat, /session/token-request,
// /telemetry/send, POST /queries/v1/abort-request.
//
// Driver setup for tests: `snowflake.configure({ logLevel: 'OFF' })` (else it writes snowflake.log in
// the cwd), env SNOWFLAKE_DISABLE_PLATFORM_DETECTION=true (else every login probes the cloud metadata
// addresses 169.254.169.254 and metadata.google.internal for 200 ms), and optionally
// SF_TELEMETRY_DISABLE_CONNECTION_SHAPE=true (one /telemetry/send per login; accepted anyway). Over
// http:// the driver does no OCSP/CRL checks. It reads sf_client_config.json (easy logging) from its
// own directory and $HOME only if one exists; SF_CLIENT_CONFIG_FILE points elsewhere.
//
// Names: a DuckDB name in lower case is a Snowflake upper-case (unquoted) name; a DuckDB name with an
// upper-case letter is a Snowflake quoted name, case and all. DuckDB itself matches names in any case,
// so one schema cannot hold both "Orders" and orders: put the quoted one in another schema. Quoted
// names in a query must match exactly (tables after FROM/JOIN by their full path; columns against any
// column of the catalog), else 002003 / 000904 as Snowflake answers. Fixtures are DuckDB SQL (exec),
// in the database `options.database` (default PINSYNC_DB, DuckDB catalog pinsync_db).
//
// SQL: Snowflake type names (NUMBER(p,s), TIMESTAMP_NTZ/LTZ/TZ(n), VARIANT/OBJECT/ARRAY, STRING/TEXT,
// FLOAT), `?` and `:1` binds, ALTER SESSION SET/UNSET, USE WAREHOUSE/DATABASE/SCHEMA/ROLE. A
// top-level `CAST(x AS VARCHAR)` select item is written as Snowflake writes it, under the session's
// TIMESTAMP_*_OUTPUT_FORMAT / DATE / TIME formats and TIMEZONE (defaults: FF3, America/Los_Angeles);
// a CAST to text anywhere else is DuckDB's. Everything else is DuckDB's dialect.
//
// Types on the wire: DuckDB TIMESTAMP/TIMESTAMP_NS = TIMESTAMP_NTZ(9), TIMESTAMPTZ = TIMESTAMP_LTZ(9),
// DECIMAL(p,s) = NUMBER(p,s), integers = NUMBER(38,0), DOUBLE = FLOAT, VARCHAR = TEXT, JSON = VARIANT,
// STRUCT/MAP = OBJECT, LIST = ARRAY, BLOB = BINARY, DATE, TIME(9), BOOLEAN. A column named in
// `timestampTzColumns` (upper-case column name -> minutes east of UTC, or null) is TIMESTAMP_TZ(9):
// DuckDB keeps no offset per value, so its values carry that fixed offset (null: the session
// TIMEZONE's offset at each instant), on the wire and in CAST(x AS VARCHAR).
//
// Faults: `warehouses` (000606), `deniedTables` (002003), `queryDelayMs` (000630 past
// STATEMENT_TIMEOUT_IN_SECONDS; past `asyncAfterMs` the answer is 333334 and the driver polls
// getResultUrl), MULTI_STATEMENT_COUNT (000008). Logins: 390100 (password), 390144 (JWT), 390303
// (OAuth), HTTP 403 for another account (the driver's 401002 "Request to Snowflake failed.").
// `queries[].binds` is the driver's bindings map: { '1': { type: 'TEXT', value: '...' }, ... }.
//
// Extra knobs beyond the agreed API: `options.database`, `asyncAfterMs`, `timestampTzColumns`,
// `requests` (method + path of every request), `sessionList` (each session's state), `errors`.
import { createHash, createPrivateKey, generateKeyPairSync, randomUUID, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import {
  DuckDBConnection, DuckDBDecimalType, DuckDBInstance, DuckDBTypeId,
  type DuckDBType, type DuckDBValue,
} from '@duckdb/node-api';

export interface FakeSnowflakeOptions {
  /** Rows per result chunk after the first (the first part of a result comes inline, as Snowflake does). Default 1000. */
  chunkRows?: number;
  /** The database the fixtures live in (Snowflake name). Default PINSYNC_DB. */
  database?: string;
}

export interface RecordedQuery {
  sqlText: string; binds: unknown; queryTag?: string; warehouse?: string; role?: string; database?: string; schema?: string;
  /** Session parameters in force for this query (TIMEZONE, TIMESTAMP_*_OUTPUT_FORMAT, STATEMENT_TIMEOUT_IN_SECONDS, QUERY_TAG, ...). */
  parameters: Record<string, unknown>;
  describeOnly: boolean;
}

interface Session {
  id: number;
  token: string;
  masterToken: string;
  user: string;
  authenticator: string;
  warehouse?: string;
  database?: string;
  schema?: string;
  role: string;
  parameters: Record<string, unknown>;
  connection?: DuckDBConnection;
  macros?: boolean;
  queue: Promise<void>;
  closed: boolean;
}

interface RowType {
  name: string; database: string; schema: string; table: string; type: string; nullable: boolean;
  precision: number | null; scale: number | null; length: number | null; byteLength: number | null; collation: null;
}

interface StoredResult { rows: string[]; chunks: [number, number][]; fetched: Set<number> }

/** What the stand-in answers a failed query or login with. */
export class SnowflakeFault extends Error {
  constructor(readonly code: string, message: string, readonly sqlState = '42000', readonly http = 200) { super(message); }
}

const DEFAULT_PARAMETERS: Record<string, unknown> = {
  TIMEZONE: 'America/Los_Angeles',
  TIMESTAMP_OUTPUT_FORMAT: 'YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM',
  TIMESTAMP_NTZ_OUTPUT_FORMAT: 'YYYY-MM-DD HH24:MI:SS.FF3',
  TIMESTAMP_LTZ_OUTPUT_FORMAT: '',
  TIMESTAMP_TZ_OUTPUT_FORMAT: '',
  TIMESTAMP_TYPE_MAPPING: 'TIMESTAMP_NTZ',
  DATE_OUTPUT_FORMAT: 'YYYY-MM-DD',
  TIME_OUTPUT_FORMAT: 'HH24:MI:SS',
  BINARY_OUTPUT_FORMAT: 'HEX',
  STATEMENT_TIMEOUT_IN_SECONDS: 172800,
  QUERY_TAG: '',
  MULTI_STATEMENT_COUNT: 1,
  CLIENT_SESSION_KEEP_ALIVE: false,
  CLIENT_SESSION_KEEP_ALIVE_HEARTBEAT_FREQUENCY: 3600,
  JS_TREAT_INTEGER_AS_BIGINT: false,
  CLIENT_RESULT_CHUNK_SIZE: 160,
  CLIENT_PREFETCH_THREADS: 4,
  QUERY_CONTEXT_CACHE_SIZE: 5,
  CLIENT_TELEMETRY_ENABLED: false,
};

const TEXT_TYPE = { type: 'text', precision: null, scale: null, length: 16777216, byteLength: 16777216 };

// ---------------------------------------------------------------------------------------------
// SQL: a small tokenizer, so translation never touches string literals or quoted names.

interface Token { kind: 'code' | 'string' | 'quoted' | 'comment'; text: string; at: number }

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let code = '';
  let codeAt = 0;
  const flush = () => { if (code) tokens.push({ kind: 'code', text: code, at: codeAt }); code = ''; };
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      flush();
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) break;
        if (sql[j] === c) { if (sql[j + 1] === c) { j += 2; continue; } break; }
        if (c === "'" && sql[j] === '\\') j++;
        j++;
      }
      tokens.push({ kind: c === "'" ? 'string' : 'quoted', text: sql.slice(i, j + 1), at: i });
      i = j + 1;
      codeAt = i;
    } else if ((c === '-' && sql[i + 1] === '-') || (c === '/' && sql[i + 1] === '/')) {
      flush();
      const end = sql.indexOf('\n', i);
      const j = end < 0 ? sql.length : end;
      tokens.push({ kind: 'comment', text: sql.slice(i, j), at: i });
      i = j; codeAt = i;
    } else if (c === '/' && sql[i + 1] === '*') {
      flush();
      const end = sql.indexOf('*/', i + 2);
      const j = end < 0 ? sql.length : end + 2;
      tokens.push({ kind: 'comment', text: sql.slice(i, j), at: i });
      i = j; codeAt = i;
    } else {
      if (!code) codeAt = i;
      code += c;
      i++;
    }
  }
  flush();
  return tokens;
}

/** The statements of a query text (split at semicolons outside strings), empty ones left out. */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current = '';
  for (const token of tokenize(sql)) {
    if (token.kind !== 'code') { current += token.text; continue; }
    const parts = token.text.split(';');
    current += parts[0];
    for (const part of parts.slice(1)) { statements.push(current); current = part; }
  }
  statements.push(current);
  return statements.filter((s) => tokenize(s).some((t) => t.kind !== 'comment' && t.text.trim() !== ''));
}

/** Snowflake's type names in DuckDB's. */
function translateTypes(code: string): string {
  return code
    .replace(/\bTIMESTAMP_NTZ\s*(\(\s*\d\s*\))?/gi, 'TIMESTAMP_NS')
    .replace(/\bDATETIME\b(\s*\(\s*\d\s*\))?/gi, 'TIMESTAMP_NS')
    .replace(/\bTIMESTAMP_(LTZ|TZ)\s*(\(\s*\d\s*\))?/gi, 'TIMESTAMPTZ')
    .replace(/\b(NUMBER|NUMERIC|DECIMAL)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)/gi, 'DECIMAL($2,$3)')
    .replace(/\b(NUMBER|NUMERIC|DECIMAL)\s*\(\s*(\d+)\s*\)/gi, 'DECIMAL($2,0)')
    .replace(/\b(NUMBER|NUMERIC)\b/gi, 'DECIMAL(38,0)')
    .replace(/\bAS\s+(VARIANT|OBJECT|ARRAY)\b/gi, 'AS JSON')
    .replace(/\bAS\s+(STRING|TEXT)\b/gi, 'AS VARCHAR')
    .replace(/\bAS\s+(FLOAT[48]?|REAL|DOUBLE PRECISION)\b/gi, 'AS DOUBLE')
    .replace(/\bAS\s+BINARY\b/gi, 'AS BLOB')
    .replace(/\b(CURRENT_TIMESTAMP|CURRENT_DATE|CURRENT_TIME|SYSDATE)\s*\(\s*\)/gi, (_all, f: string) => (/^SYSDATE$/i.test(f) ? "(now() AT TIME ZONE 'UTC')" : f))
    .replace(/:(\d+)\b/g, '$$$1');
}

/** A Snowflake quoted name as DuckDB holds it. */
function duckName(snowflakeName: string): string {
  return /[a-z]/.test(snowflakeName) ? snowflakeName : snowflakeName.toLowerCase();
}

/** A DuckDB name as Snowflake shows it. */
function snowflakeName(duck: string): string {
  return /[A-Z]/.test(duck) ? duck : duck.toUpperCase();
}

function unquote(text: string): string {
  return text.slice(1, -1).replace(/""/g, '"');
}

/** Positions in `sql` of the top-level SELECT list's items (depth 0, between SELECT and FROM). */
function selectItems(sql: string): { start: number; end: number }[] | undefined {
  const tokens = tokenize(sql);
  let depth = 0;
  let selectAt = -1;
  const commas: number[] = [];
  let fromAt = sql.length;
  outer: for (const token of tokens) {
    if (token.kind !== 'code') continue;
    const text = token.text;
    for (let k = 0; k < text.length; k++) {
      const ch = text[k]!;
      if (ch === '(') depth++;
      else if (ch === ')') depth--;
      else if (depth === 0) {
        const rest = text.slice(k);
        const before = k === 0 ? ' ' : text[k - 1]!;
        if (/[\s(]/.test(before) || k === 0) {
          if (selectAt < 0 && /^SELECT\b/i.test(rest)) { selectAt = token.at + k + 6; k += 5; continue; }
          if (selectAt >= 0 && /^FROM\b/i.test(rest)) { fromAt = token.at + k; break outer; }
        }
        if (selectAt >= 0 && ch === ',') commas.push(token.at + k);
      }
    }
  }
  if (selectAt < 0) return undefined;
  const bounds = [selectAt, ...commas.map((c) => c + 1)];
  return bounds.map((start, i) => ({ start, end: i < commas.length ? commas[i]! : fromAt }));
}

// ---------------------------------------------------------------------------------------------
// DuckDB values on Snowflake's wire.

type Kind = 'fixed' | 'real' | 'text' | 'boolean' | 'date' | 'time' | 'timestamp_ntz' | 'timestamp_ltz' | 'timestamp_tz' | 'binary' | 'variant' | 'object' | 'array';

function kindOf(type: DuckDBType): Kind {
  switch (type.typeId) {
    case DuckDBTypeId.TINYINT: case DuckDBTypeId.SMALLINT: case DuckDBTypeId.INTEGER: case DuckDBTypeId.BIGINT: case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UTINYINT: case DuckDBTypeId.USMALLINT: case DuckDBTypeId.UINTEGER: case DuckDBTypeId.UBIGINT: case DuckDBTypeId.DECIMAL:
      return 'fixed';
    case DuckDBTypeId.FLOAT: case DuckDBTypeId.DOUBLE: return 'real';
    case DuckDBTypeId.BOOLEAN: return 'boolean';
    case DuckDBTypeId.DATE: return 'date';
    case DuckDBTypeId.TIME: return 'time';
    case DuckDBTypeId.TIMESTAMP: case DuckDBTypeId.TIMESTAMP_NS: case DuckDBTypeId.TIMESTAMP_MS: case DuckDBTypeId.TIMESTAMP_S: return 'timestamp_ntz';
    case DuckDBTypeId.TIMESTAMP_TZ: return 'timestamp_ltz';
    case DuckDBTypeId.BLOB: return 'binary';
    case DuckDBTypeId.LIST: case DuckDBTypeId.ARRAY: return 'array';
    case DuckDBTypeId.STRUCT: case DuckDBTypeId.MAP: return 'object';
    case DuckDBTypeId.VARCHAR: return type.alias === 'JSON' ? 'variant' : 'text';
    default: return type.typeId === 41 /* VARIANT */ ? 'variant' : 'text';
  }
}

function rowTypeOf(name: string, type: DuckDBType, kind: Kind, database: string, schema: string): RowType {
  const base = { name, database, schema, table: '', nullable: true, collation: null } as const;
  switch (kind) {
    case 'fixed': {
      const precision = type.typeId === DuckDBTypeId.DECIMAL ? (type as DuckDBDecimalType).width : 38;
      const scale = type.typeId === DuckDBTypeId.DECIMAL ? (type as DuckDBDecimalType).scale : 0;
      return { ...base, type: 'fixed', precision, scale, length: null, byteLength: null };
    }
    case 'text': case 'variant': case 'object': case 'array':
      return { ...base, ...TEXT_TYPE, type: kind };
    case 'binary': return { ...base, type: 'binary', precision: null, scale: null, length: 8388608, byteLength: 8388608 };
    case 'time': case 'timestamp_ntz': case 'timestamp_ltz': case 'timestamp_tz':
      return { ...base, type: kind, precision: 0, scale: 9, length: null, byteLength: null };
    default: return { ...base, type: kind, precision: null, scale: null, length: null, byteLength: null };
  }
}

// ---------------------------------------------------------------------------------------------

function snowflakeError(code: string, message: string, sqlState = '42000', queryId?: string): Record<string, unknown> {
  return {
    data: { internalError: false, errorCode: code, age: 0, sqlState, queryId: queryId ?? randomUUID(), line: -1, pos: -1, type: 'COMPILATION' },
    code, message, success: false, headers: null,
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class FakeSnowflake {
  readonly account = 'acme-test';
  readonly user = 'PINSYNC';
  readonly password = 'fake-password-not-a-secret';
  readonly oauthToken = 'fake-oauth-token-not-a-secret';
  readonly privateKeyPem: string;
  url = '';
  readonly queries: RecordedQuery[] = [];
  readonly sessions = { opened: 0, closed: 0 };
  chunkDownloads = 0;
  warehouses = new Set<string>(['PINSYNC_WH']);
  deniedTables = new Set<string>();
  queryDelayMs = 0;
  /** A query still running after this long is answered with 333334 and fetched from getResultUrl. */
  asyncAfterMs = 1000;
  /** Result column names (upper case) served as TIMESTAMP_TZ rather than TIMESTAMP_LTZ. */
  timestampTzColumns = new Map<string, number | null>();
  readonly requests: { method: string; path: string }[] = [];
  readonly sessionList: Session[] = [];
  /** The stand-in's own failures (answered 500), for debugging a test. */
  readonly errors: Error[] = [];

  private readonly chunkRows: number;
  private readonly database: string;
  private readonly publicKey: KeyObject;
  private server?: Server;
  private db?: DuckDBInstance;
  private main?: DuckDBConnection;
  private results = new Map<string, StoredResult>();
  private running = new Map<string, Promise<Record<string, unknown>>>();
  private nextSessionId = 1000;

  constructor(options: FakeSnowflakeOptions = {}) {
    this.chunkRows = options.chunkRows ?? 1000;
    this.database = options.database ?? 'PINSYNC_DB';
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKeyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    this.publicKey = publicKey;
  }

  /** The same key as privateKeyPem, as encrypted PKCS#8. */
  encryptedPrivateKeyPem(passphrase: string): string {
    return createPrivateKey(this.privateKeyPem).export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase }).toString();
  }

  async start(): Promise<this> {
    this.db = await DuckDBInstance.create(':memory:');
    this.main = await this.db.connect();
    await this.main.run(`ATTACH ':memory:' AS "${duckName(this.database)}"; USE "${duckName(this.database)}"; SET TimeZone = 'UTC'`);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        this.errors.push(error as Error);
        if (!res.headersSent) this.send(res, 500, { success: false, code: '000603', message: `fake-snowflake: ${(error as Error).message}`, data: null });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    for (const session of this.sessionList) session.connection?.closeSync();
    this.main?.closeSync();
    this.db?.closeSync();
  }

  /** Runs DuckDB SQL directly (fixtures), in the fake's database. */
  async exec(sql: string): Promise<void> {
    await this.main!.run(sql);
  }

  private send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts: Buffer[] = [];
    for await (const part of req) parts.push(part as Buffer);
    let raw = Buffer.concat(parts);
    // The driver gzips bodies (and may say so in a header, or not): look at the magic bytes.
    if (raw[0] === 0x1f && raw[1] === 0x8b) raw = gunzipSync(raw);
    const body = raw.length ? JSON.parse(raw.toString('utf8')) as Record<string, any> : {};
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push({ method: req.method ?? '', path: url.pathname });
    const path = url.pathname;

    if (path === '/session/v1/login-request') {
      // Snowflake routes by account: one it does not know answers the login with a bare HTTP 403.
      if (String(body.data?.ACCOUNT_NAME ?? '').toLowerCase() !== this.account) return this.send(res, 403, '<html><body>Forbidden</body></html>', 'text/html');
      return this.send(res, 200, this.login(body, url.searchParams));
    }
    const chunk = /^\/chunks\/([^/]+)\/(\d+)$/.exec(path);
    if (req.method === 'GET' && chunk) return this.chunk(res, chunk[1]!, Number(chunk[2]));

    const session = this.sessionOf(req);
    if (!session) {
      return this.send(res, 401, { data: null, code: '390104', message: 'User must login again to access the service.', success: false, headers: null });
    }
    if (path === '/session' && url.searchParams.get('delete') === 'true') {
      if (!session.closed) { session.closed = true; this.sessions.closed++; }
      return this.send(res, 200, { data: null, code: null, message: null, success: true });
    }
    if (path === '/session/heartbeat') return this.send(res, 200, { data: null, code: null, message: null, success: true });
    if (path === '/session/token-request') {
      session.token = `session-${randomUUID()}`;
      return this.send(res, 200, { data: { sessionToken: session.token, validityInSecondsST: 3600, masterToken: session.masterToken, validityInSecondsMT: 14400 }, code: null, message: null, success: true });
    }
    if (path === '/telemetry/send') return this.send(res, 200, { data: 'Log Received', code: null, message: null, success: true });
    if (path === '/queries/v1/abort-request' || /^\/queries\/[^/]+\/abort-request$/.test(path)) {
      return this.send(res, 200, { data: null, code: null, message: null, success: true });
    }
    if (path === '/queries/v1/query-request') return this.send(res, 200, await this.queryRequest(session, body));
    const result = /^\/queries\/([^/]+)\/result$/.exec(path);
    if (req.method === 'GET' && result) return this.send(res, 200, await this.resultRequest(result[1]!));
    this.send(res, 404, { data: null, code: '390400', message: `fake-snowflake: no endpoint ${req.method} ${path}`, success: false });
  }

  private sessionOf(req: IncomingMessage): Session | undefined {
    const token = /Snowflake Token="([^"]*)"/.exec(req.headers.authorization ?? '')?.[1];
    const session = token ? this.sessionList.find((s) => s.token === token || s.masterToken === token) : undefined;
    return session && !session.closed ? session : undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Login

  private login(body: Record<string, any>, search: URLSearchParams): Record<string, unknown> {
    const data = (body.data ?? {}) as Record<string, any>;
    const authenticator = String(data.AUTHENTICATOR ?? 'SNOWFLAKE').toUpperCase();
    const loginName = String(data.LOGIN_NAME ?? '');
    const fail = (code: string, message: string) => ({ data: { nextAction: 'RETRY_LOGIN', authnMethod: authenticator, signInOptions: {} }, code, message, success: false, headers: null });
    if (authenticator === 'SNOWFLAKE_JWT') {
      const problem = this.checkJwt(String(data.TOKEN ?? ''), loginName);
      if (problem) return fail('390144', 'JWT token is invalid.');
    } else if (authenticator === 'OAUTH') {
      if (data.TOKEN !== this.oauthToken) return fail('390303', 'Invalid OAuth access token. ');
    } else if (authenticator === 'SNOWFLAKE' || authenticator === '') {
      if (loginName.toUpperCase() !== this.user || data.PASSWORD !== this.password) return fail('390100', 'Incorrect username or password was specified.');
    } else {
      return fail('390190', `There was an error related to the SAML Identity Provider account parameter. Authenticator ${authenticator} is not supported by this stand-in.`);
    }
    const warehouse = search.get('warehouse') ?? undefined;
    const database = search.get('databaseName') ?? undefined;
    const schema = search.get('schemaName') ?? undefined;
    const role = search.get('roleName') ?? 'PUBLIC';
    const parameters: Record<string, unknown> = { ...DEFAULT_PARAMETERS };
    for (const [k, v] of Object.entries((data.SESSION_PARAMETERS ?? {}) as Record<string, unknown>)) parameters[k.toUpperCase()] = v;
    const session: Session = {
      id: this.nextSessionId++, token: `session-${randomUUID()}`, masterToken: `master-${randomUUID()}`, user: this.user, authenticator,
      warehouse: warehouse && this.warehouses.has(warehouse.toUpperCase()) ? warehouse.toUpperCase() : undefined,
      database: database?.toUpperCase(), schema: schema?.toUpperCase(), role: role.toUpperCase(), parameters,
      queue: Promise.resolve(), closed: false,
    };
    this.sessionList.push(session);
    this.sessions.opened++;
    return {
      data: {
        masterToken: session.masterToken, token: session.token, validityInSeconds: 3600, masterValidityInSeconds: 14400,
        displayUserName: this.user, serverVersion: '8.40.0', firstLogin: false, remMeToken: null, remMeValidityInSeconds: 0,
        healthCheckInterval: 45, newClientForUpgrade: null, sessionId: session.id,
        parameters: Object.entries(parameters).map(([name, value]) => ({ name, value })),
        sessionInfo: { databaseName: session.database ?? null, schemaName: session.schema ?? null, warehouseName: session.warehouse ?? null, roleName: session.role },
        idToken: null, idTokenValidityInSeconds: 0, responseData: null, mfaToken: null, mfaTokenValidityInSeconds: 0,
      },
      code: null, message: null, success: true,
    };
  }

  /** Why a key-pair login's JWT is refused, or undefined: RS256 signed by the registered key, iss/sub as the driver builds them. */
  private checkJwt(token: string, loginName: string): string | undefined {
    const [header, payload, signature] = token.split('.');
    if (!header || !payload || signature === undefined) return 'not a JWT';
    const head = JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg?: string };
    if (head.alg !== 'RS256') return 'not RS256';
    const ok = verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), this.publicKey, Buffer.from(signature, 'base64url'));
    if (!ok) return 'bad signature';
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { iss?: string; sub?: string };
    const fingerprint = `SHA256:${createHash('sha256').update(this.publicKey.export({ format: 'der', type: 'spki' })).digest('base64')}`;
    const who = `${this.account.toUpperCase()}.${this.user}`;
    if (loginName.toUpperCase() !== this.user) return 'wrong user';
    if (claims.sub !== who || claims.iss !== `${who}.${fingerprint}`) return 'wrong claims';
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Queries

  private async connectionOf(session: Session, parameters: Record<string, unknown>): Promise<DuckDBConnection> {
    let connection = session.connection;
    if (!connection) {
      connection = session.connection = await this.db!.connect();
      const db = duckName(session.database ?? this.database);
      const use = `USE "${db}"${session.schema ? `."${duckName(session.schema)}"` : ''}`;
      await connection.run(use).catch(() => connection!.run(`USE "${duckName(this.database)}"`));
    }
    await connection.run(`SET TimeZone = '${String(parameters.TIMEZONE ?? 'UTC').replace(/'/g, "''")}'`);
    if (!session.macros) {
      // A few Snowflake functions a hand-written query is likely to use.
      await connection.run(`CREATE TEMP MACRO parse_json(x) AS CAST(x AS JSON); CREATE TEMP MACRO to_varchar(x) AS CAST(x AS VARCHAR);
        CREATE TEMP MACRO to_json_text(x) AS CAST(x AS VARCHAR); CREATE TEMP MACRO zeroifnull(x) AS coalesce(x, 0); CREATE TEMP MACRO nvl(a, b) AS coalesce(a, b)`);
      session.macros = true;
    }
    return connection;
  }

  private async queryRequest(session: Session, body: Record<string, any>): Promise<Record<string, unknown>> {
    const queryId = randomUUID();
    const sqlText = String(body.sqlText ?? '');
    const parameters = { ...session.parameters };
    for (const [k, v] of Object.entries((body.parameters ?? {}) as Record<string, unknown>)) parameters[k.toUpperCase()] = v;
    const describeOnly = body.describeOnly === true;
    this.queries.push({
      sqlText, binds: body.bindings, queryTag: parameters.QUERY_TAG ? String(parameters.QUERY_TAG) : undefined,
      warehouse: session.warehouse, role: session.role, database: session.database, schema: session.schema, parameters, describeOnly,
    });
    const work = this.run(session, queryId, sqlText, (body.bindings ?? {}) as Record<string, { type: string; value: unknown }>, parameters, describeOnly);
    const delay = describeOnly ? 0 : this.queryDelayMs;
    if (delay <= this.asyncAfterMs) return work;
    // A long query: Snowflake detaches it and the driver polls getResultUrl.
    this.running.set(queryId, work);
    return { data: { queryId, getResultUrl: `/queries/${queryId}/result`, queryAbortsAfterSecs: 300, progressDesc: null }, code: '333334', message: 'Asynchronous execution in progress. Use provided query id to perform query monitoring and management.', success: true };
  }

  private async resultRequest(queryId: string): Promise<Record<string, unknown>> {
    const work = this.running.get(queryId);
    if (!work) return snowflakeError('000709', `Statement ${queryId} not found`, '02000', queryId);
    const done = await Promise.race([work, sleep(this.asyncAfterMs).then(() => undefined)]);
    if (!done) return { data: { queryId, getResultUrl: `/queries/${queryId}/result`, queryAbortsAfterSecs: 300, progressDesc: null }, code: '333333', message: 'Query execution in progress', success: true };
    this.running.delete(queryId);
    return done;
  }

  private async run(
    session: Session, queryId: string, sqlText: string, bindings: Record<string, { type: string; value: unknown }>,
    parameters: Record<string, unknown>, describeOnly: boolean,
  ): Promise<Record<string, unknown>> {
    try {
      const statements = splitStatements(sqlText);
      const wanted = Number(parameters.MULTI_STATEMENT_COUNT ?? 1);
      if (wanted !== 0 && statements.length !== wanted) {
        throw new SnowflakeFault('000008', `Actual statement count ${statements.length} did not match the desired statement count ${wanted}.`, '0A000');
      }
      // Several statements come back as resultIds, one result each: not needed by pinsync, so not served.
      if (statements.length > 1) throw new SnowflakeFault('000002', 'Unsupported feature: this stand-in runs one statement per request.', '0A000');
      const sql = statements[0] ?? '';
      const control = this.sessionCommand(session, sql);
      if (control) return this.answer(session, queryId, parameters, control.rowtype, [JSON.stringify([control.message])], control.statementTypeId);
      const delay = describeOnly ? 0 : this.queryDelayMs;
      const timeout = Number(parameters.STATEMENT_TIMEOUT_IN_SECONDS ?? 0);
      if (!describeOnly && !session.warehouse) {
        throw new SnowflakeFault('000606', "No active warehouse selected in the current session.  Select an active warehouse with the 'use warehouse' command.\n", '57P03');
      }
      if (timeout > 0 && delay > timeout * 1000) {
        await sleep(timeout * 1000);
        throw new SnowflakeFault('000630', `Statement reached its statement or warehouse timeout of ${timeout} second(s) and was canceled.`, '57014');
      }
      if (delay > 0) await sleep(delay);
      // One DuckDB connection per session: its statements take turns, as the session's SET TimeZone must hold for each.
      const turn = session.queue.then(() => this.select(session, queryId, sql, bindings, parameters, describeOnly));
      session.queue = turn.then(() => undefined, () => undefined);
      return await turn;
    } catch (error) {
      if (error instanceof SnowflakeFault) return snowflakeError(error.code, error.message, error.sqlState, queryId);
      throw error;
    }
  }

  /** ALTER SESSION, USE: changes the session; undefined for anything else. */
  private sessionCommand(session: Session, sql: string): { rowtype: RowType[]; message: string; statementTypeId: number } | undefined {
    const text = sql.trim();
    const status = (message: string, statementTypeId: number) => ({
      rowtype: [{ name: 'status', database: '', schema: '', table: '', nullable: true, collation: null, ...TEXT_TYPE }] as RowType[],
      message, statementTypeId,
    });
    let m: RegExpExecArray | null;
    if ((m = /^ALTER\s+SESSION\s+SET\s+([\s\S]+)$/i.exec(text))) {
      for (const assignment of m[1]!.matchAll(/(\w+)\s*=\s*('(?:[^']|'')*'|[^\s,]+)/g)) {
        const raw = assignment[2]!;
        const value: unknown = raw.startsWith("'") ? raw.slice(1, -1).replace(/''/g, "'") : /^-?\d+$/.test(raw) ? Number(raw) : /^(true|false)$/i.test(raw) ? raw.toLowerCase() === 'true' : raw;
        session.parameters[assignment[1]!.toUpperCase()] = value;
      }
      return status('Statement executed successfully.', 0x4100);
    }
    if ((m = /^ALTER\s+SESSION\s+UNSET\s+([\s\S]+)$/i.exec(text))) {
      for (const name of m[1]!.split(',').map((n) => n.trim().toUpperCase())) session.parameters[name] = DEFAULT_PARAMETERS[name];
      return status('Statement executed successfully.', 0x4100);
    }
    if ((m = /^USE\s+(WAREHOUSE|DATABASE|SCHEMA|ROLE)\s+("(?:[^"]|"")*"|\S+)$/i.exec(text))) {
      const what = m[1]!.toUpperCase();
      const name = m[2]!.startsWith('"') ? unquote(m[2]!) : m[2]!.toUpperCase();
      if (what === 'WAREHOUSE') {
        if (!this.warehouses.has(name)) throw new SnowflakeFault('002043', `SQL compilation error:\nObject does not exist, or operation cannot be performed.`, '02000');
        session.warehouse = name;
      } else if (what === 'DATABASE') session.database = name;
      else if (what === 'SCHEMA') session.schema = name;
      else session.role = name;
      return status('Statement executed successfully.', 0x4300);
    }
    return undefined;
  }

  private async select(
    session: Session, queryId: string, sqlText: string, bindings: Record<string, { type: string; value: unknown }>,
    parameters: Record<string, unknown>, describeOnly: boolean,
  ): Promise<Record<string, unknown>> {
    const connection = await this.connectionOf(session, parameters);
    const { sql, textColumns, textSources } = await this.translate(connection, sqlText);
    const values = Object.keys(bindings).sort((a, b) => Number(a) - Number(b)).map((k) => bindValue(bindings[k]!));
    const statementTypeId = statementTypeOf(sqlText);
    try {
      const prepared = await connection.prepare(sql);
      const names = Array.from({ length: prepared.columnCount }, (_, i) => prepared.columnName(i));
      const types = Array.from({ length: prepared.columnCount }, (_, i) => prepared.columnType(i));
      const columns = this.rowtypes(session, names, types, textColumns, textSources, statementTypeId);
      const rowtype = columns.map((c) => c.rowType);
      if (describeOnly) return this.answer(session, queryId, parameters, rowtype, [], statementTypeId);
      if (statementTypeId !== 0x1000) {
        // Writes and DDL: DuckDB's own answer (a count, or nothing), as text.
        const reader = await connection.runAndReadAll(sql, values.length ? values : undefined);
        const rows = reader.getRowsJS().map((r) => JSON.stringify(r.map((v) => (v === null ? null : String(v)))));
        return this.answer(session, queryId, parameters, rowtype, rows, statementTypeId);
      }
      // DuckDB writes each row's JSON text itself: far faster than converting values in JS.
      const wires = columns.map((column, i) => `coalesce(to_json(${wireSql(`"__c${i}"`, column.text ? 'text' : column.kind, column.sourceKind, parameters, column.tzOffset)}), 'null')`);
      const row = wires.length ? `'[' || ${wires.join(" || ',' || ")} || ']'` : "'[]'";
      const wrapped = `SELECT ${row} FROM (${sql}\n) AS __sf(${columns.map((_, i) => `"__c${i}"`).join(', ')})`;
      const reader = await connection.runAndReadAll(wrapped, values.length ? values : undefined);
      return this.answer(session, queryId, parameters, rowtype, (reader.getColumnsJS()[0] ?? []) as string[], statementTypeId);
    } catch (error) {
      if (error instanceof SnowflakeFault) throw error;
      throw explainDuckDB(error);
    }
  }

  private rowtypes(session: Session, names: string[], types: DuckDBType[], textColumns: Map<string, string>, textSources: Map<string, string>, statementTypeId: number) {
    const database = session.database ?? this.database;
    const schema = session.schema ?? '';
    const dml = DML_COLUMNS[statementTypeId];
    return names.map((name, i) => {
      const type = types[i]!;
      let kind = kindOf(type);
      const textName = textColumns.get(name);
      const shown = dml && names.length === 1 ? dml : textName ?? snowflakeName(name);
      const source = textName !== undefined ? textSources.get(name) : shown;
      const tzOffset = source !== undefined ? this.timestampTzColumns.get(source) : undefined;
      if (kind === 'timestamp_ltz' && tzOffset !== undefined) kind = 'timestamp_tz';
      if (textName !== undefined) {
        return { kind: 'text' as Kind, sourceKind: kind, text: true, tzOffset, rowType: rowTypeOf(shown, type, 'text', database, schema) };
      }
      return { kind, sourceKind: kind, text: false, tzOffset, rowType: rowTypeOf(shown, type, kind, database, schema) };
    });
  }

  /** A successful answer (each row as its JSON text), the first chunk inline and the rest as chunk URLs. */
  private answer(session: Session, queryId: string, parameters: Record<string, unknown>, rowtype: RowType[], rows: string[], statementTypeId: number): Record<string, unknown> {
    const total = rows.length;
    const chunks: { url: string; rowCount: number; uncompressedSize: number; compressedSize: number }[] = [];
    const stored: StoredResult = { rows, chunks: [], fetched: new Set() };
    for (let start = this.chunkRows; start < total; start += this.chunkRows) {
      const end = Math.min(total, start + this.chunkRows);
      stored.chunks.push([start, end]);
      chunks.push({ url: `${this.url}/chunks/${queryId}/${chunks.length}`, rowCount: end - start, uncompressedSize: (end - start) * 64, compressedSize: (end - start) * 16 });
    }
    if (chunks.length) this.results.set(queryId, stored);
    return {
      data: {
        parameters: Object.entries(parameters).map(([name, value]) => ({ name, value })),
        rowtype, rowset: JSON.parse(`[${rows.slice(0, this.chunkRows).join(',')}]`) as unknown[], total, returned: total, queryId,
        databaseProvider: null, finalDatabaseName: session.database ?? null, finalSchemaName: session.schema ?? null,
        finalWarehouseName: session.warehouse ?? null, finalRoleName: session.role,
        numberOfBinds: 0, arrayBindSupported: false, statementTypeId, version: 1, sendResultTime: Date.now(),
        queryResultFormat: 'json', queryContext: { entries: [] },
        ...(chunks.length ? { chunks, chunkHeaders: {} } : {}),
      },
      code: null, message: null, success: true,
    };
  }

  private chunk(res: ServerResponse, queryId: string, n: number): void {
    const stored = this.results.get(queryId);
    const range = stored?.chunks[n];
    if (!stored || !range) return this.send(res, 404, '<Error><Code>NoSuchKey</Code></Error>', 'application/xml');
    this.chunkDownloads++;
    // A chunk is rows separated by commas, without the enclosing brackets (the driver adds them).
    const text = stored.rows.slice(range[0], range[1]).join(',');
    // The driver fetches chunks in parallel, in any order: the result goes once each was served.
    stored.fetched.add(n);
    if (stored.fetched.size === stored.chunks.length) this.results.delete(queryId);
    this.send(res, 200, text, 'application/octet-stream');
  }

  /**
   * Snowflake SQL in DuckDB's dialect. Quoted names must match a Snowflake name exactly (DuckDB alone
   * would match them in any case); top-level CAST(x AS VARCHAR) items are left for the stand-in to
   * write as Snowflake does (textColumns: DuckDB alias -> Snowflake column name).
   */
  private async translate(connection: DuckDBConnection, sqlText: string): Promise<{ sql: string; textColumns: Map<string, string>; textSources: Map<string, string> }> {
    const textColumns = new Map<string, string>();
    const textSources = new Map<string, string>();
    let sql = sqlText;
    const items = selectItems(sql);
    if (items) {
      let out = '';
      let last = 0;
      items.forEach((item, i) => {
        const text = sql.slice(item.start, item.end);
        const m = /^\s*CAST\s*\(([\s\S]+)\s+AS\s+(?:VARCHAR|TEXT|STRING)(?:\s*\(\s*\d+\s*\))?\s*\)\s*(?:(?:AS\s+)?("(?:[^"]|"")*"|[A-Za-z_]\w*))?\s*$/i.exec(text);
        if (!m) return;
        const alias = m[2] === undefined ? snowflakeExpressionName(text.trim()) : m[2].startsWith('"') ? unquote(m[2]) : m[2].toUpperCase();
        const duck = `__sf_text_${i}`;
        textColumns.set(duck, alias);
        // The column a CAST reads, when it reads one (its last name), for timestampTzColumns.
        const read = /("(?:[^"]|"")*"|[A-Za-z_]\w*)\s*$/.exec(m[1]!)?.[1];
        if (read) textSources.set(duck, read.startsWith('"') ? unquote(read) : read.toUpperCase());
        out += sql.slice(last, item.start) + ` (${m[1]}) AS "${duck}" `;
        last = item.end;
      });
      sql = out + sql.slice(last);
    }
    await this.checkObjects(connection, sqlText);
    const known = await this.catalogNames(connection);
    const defined = new Set<string>();
    for (const m of sqlText.matchAll(/\bAS\s+"((?:[^"]|"")*)"/gi)) defined.add(m[1]!.replace(/""/g, '"'));
    // An unquoted alias is its upper-case name (`email AS Contact` is the column CONTACT).
    for (const m of sqlText.matchAll(/\bAS\s+([A-Za-z_][\w$]*)/gi)) defined.add(m[1]!.toUpperCase());
    const tokens = tokenize(sql);
    let out = '';
    tokens.forEach((token, i) => {
      if (token.kind === 'code') { out += translateTypes(token.text).toLowerCase().replace(/\$(\d+)/g, '$$$1'); return; }
      if (token.kind !== 'quoted') { out += token.text; return; }
      const name = unquote(token.text);
      if (name.startsWith('__sf_text_')) { out += token.text; return; }
      const duck = duckName(name);
      // An all-lower-case DuckDB name is a Snowflake upper-case name, so "email" matches nothing.
      const exists = known.has(duck) && (duck === name.toLowerCase() ? !/[a-z]/.test(name) : true);
      if (!exists && !defined.has(name)) {
        const next = tokens[i + 1];
        const prev = out.trimEnd();
        const object = (next?.kind === 'code' && next.text.startsWith('.')) || /\b(from|join)$/i.test(prev);
        if (object) throw new SnowflakeFault('002003', `SQL compilation error:\nObject '${name}' does not exist or not authorized.`, '02000');
        throw new SnowflakeFault('000904', `SQL compilation error: error line 1 at position ${token.at}\ninvalid identifier '${token.text}'`, '42000');
      }
      out += `"${duck.replace(/"/g, '""')}"`;
    });
    return { sql: out, textColumns, textSources };
  }

  /**
   * Each table a query reads (after FROM or JOIN) must exist under its exact name, as Snowflake
   * resolves names (DuckDB alone would match "ORDERS" to "Orders"), and the role must be allowed it.
   */
  private async checkObjects(connection: DuckDBConnection, sqlText: string): Promise<void> {
    const blank = tokenize(sqlText).map((t) => (t.kind === 'string' || t.kind === 'comment' ? ' '.repeat(t.text.length) : t.text)).join('');
    const ident = String.raw`(?:"(?:[^"]|"")*"|[A-Za-z_][\w$]*)`;
    const chains = [...blank.matchAll(new RegExp(String.raw`\b(?:FROM|JOIN)\s+(${ident}(?:\s*\.\s*${ident}){0,2})`, 'gi'))];
    if (!chains.length) return;
    const reader = await connection.runAndReadAll(`
      SELECT database_name, schema_name, table_name FROM duckdb_tables()
      UNION ALL SELECT database_name, schema_name, view_name FROM duckdb_views()`);
    const tables = reader.getRows().map((r) => r.map(String) as [string, string, string]);
    const current = (await connection.runAndReadAll('SELECT current_database(), current_schema()')).getRows()[0]!.map(String);
    for (const chain of chains) {
      const parts = [...chain[1]!.matchAll(new RegExp(ident, 'g'))].map((m) => m[0]);
      const names = parts.map((p) => (p.startsWith('"') ? unquote(p) : p.toUpperCase()));
      if (!parts[0]!.startsWith('"') && /^(SELECT|LATERAL|TABLE|VALUES)$/i.test(parts[0]!)) continue;
      const [table, schema, database] = [...names].reverse().map((n) => duckName(n)) as [string, string?, string?];
      if (parts.length === 1 && /^(range|generate_series|unnest|read_\w+)$/i.test(parts[0]!)) continue;
      const found = tables.some(([d, sch, t]) => t === table && sch === (schema ?? current[1]) && d === (database ?? current[0]));
      const cte = new RegExp(String.raw`\b${parts[0]!.replace(/[^\w]/g, '')}\s+AS\s*\(`, 'i').test(blank);
      if ((!found && !(parts.length === 1 && cte)) || this.deniedTables.has(names.at(-1)!)) {
        throw new SnowflakeFault('002003', `SQL compilation error:\nObject '${names.join('.')}' does not exist or not authorized.`, '02000');
      }
    }
  }

  /** Every name in the DuckDB catalog, exactly as DuckDB holds it. */
  private async catalogNames(connection: DuckDBConnection): Promise<Set<string>> {
    const reader = await connection.runAndReadAll(`
      SELECT database_name FROM duckdb_databases() UNION SELECT schema_name FROM duckdb_schemas()
      UNION SELECT table_name FROM duckdb_tables() UNION SELECT view_name FROM duckdb_views()
      UNION SELECT column_name FROM duckdb_columns()`);
    return new Set(reader.getRows().map((r) => String(r[0])));
  }
}

const DML_COLUMNS: Record<number, string> = {
  0x3100: 'number of rows inserted', 0x3200: 'number of rows updated', 0x3300: 'number of rows deleted', 0x3400: 'number of rows inserted',
};

/** nanoseconds since the epoch (a BIGINT expression) as Snowflake's "seconds.fraction" text. */
function epochTextSql(nanos: string): string {
  const frac = `(((${nanos}) % 1000000000 + 1000000000) % 1000000000)`;
  return `CAST(((${nanos}) - ${frac}) // 1000000000 AS VARCHAR) || '.' || lpad(CAST(${frac} AS VARCHAR), 9, '0')`;
}

const sqlText = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** Minutes east of UTC of a TIMESTAMPTZ in the session's TimeZone (DuckDB's, set from Snowflake's TIMEZONE). */
const offsetSql = (x: string) => `CAST((epoch(CAST(${x} AS TIMESTAMP)) - epoch(${x})) // 60 AS BIGINT)`;

/**
 * SQL that writes a wall-clock TIMESTAMP (and an offset in minutes) in a Snowflake format: YYYY, YY,
 * MM, MON, DD, DY, HH24, HH12, AM/PM, MI, SS, FF0-FF9 (FF = FF9), TZH:TZM, TZHTZM, TZH, TZM, "text".
 */
export function formatSql(wall: string, offset: string, format: string): string {
  const pieces: string[] = [];
  const sign = `CASE WHEN ${offset} < 0 THEN '-' ELSE '+' END`;
  const hours = `lpad(CAST(abs(${offset}) // 60 AS VARCHAR), 2, '0')`;
  const minutes = `lpad(CAST(abs(${offset}) % 60 AS VARCHAR), 2, '0')`;
  const tokens: [RegExp, (m: RegExpExecArray) => string][] = [
    [/^"([^"]*)"/, (m) => sqlText(m[1]!)],
    [/^FF(\d)?/i, (m) => `substr(strftime(${wall}, '%n'), 1, ${m[1] ?? 9})`],
    [/^YYYY/i, () => `strftime(${wall}, '%Y')`], [/^YY/i, () => `strftime(${wall}, '%y')`],
    [/^MON/i, () => `strftime(${wall}, '%b')`], [/^MM/i, () => `strftime(${wall}, '%m')`],
    [/^DD/i, () => `strftime(${wall}, '%d')`], [/^DY/i, () => `strftime(${wall}, '%a')`],
    [/^HH24/i, () => `strftime(${wall}, '%H')`], [/^HH12/i, () => `strftime(${wall}, '%I')`], [/^HH/i, () => `strftime(${wall}, '%H')`],
    [/^(AM|PM)/i, () => `strftime(${wall}, '%p')`], [/^MI/i, () => `strftime(${wall}, '%M')`], [/^SS/i, () => `strftime(${wall}, '%S')`],
    [/^TZH:TZM/i, () => `${sign} || ${hours} || ':' || ${minutes}`], [/^TZHTZM/i, () => `${sign} || ${hours} || ${minutes}`],
    [/^TZH/i, () => `${sign} || ${hours}`], [/^TZM/i, () => minutes],
  ];
  let literal = '';
  for (let i = 0; i < format.length;) {
    const rest = format.slice(i);
    const hit = tokens.map(([re, sql]) => [re.exec(rest), sql] as const).find(([m]) => m);
    if (!hit) { literal += format[i]; i++; continue; }
    if (literal) { pieces.push(sqlText(literal)); literal = ''; }
    pieces.push(`(${hit[1](hit[0]!)})`);
    i += hit[0]![0].length;
  }
  if (literal) pieces.push(sqlText(literal));
  return pieces.length ? pieces.join(' || ') : "''";
}

/** SQL giving a column's text on Snowflake's wire (VARCHAR or NULL). */
function wireSql(x: string, kind: Kind, sourceKind: Kind, parameters: Record<string, unknown>, tzOffset?: number | null): string {
  // A TIMESTAMP_TZ column's offset: fixed, or the session TIMEZONE's at each instant.
  const tz = (v: string) => (tzOffset == null ? offsetSql(v) : String(tzOffset));
  const tzWall = (v: string) => (tzOffset == null ? `CAST(${v} AS TIMESTAMP)` : `(CAST(${v} AT TIME ZONE 'UTC' AS TIMESTAMP) + to_minutes(${tzOffset}))`);
  const fallback = String(parameters.TIMESTAMP_OUTPUT_FORMAT || 'YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM');
  if (kind === 'text' && sourceKind !== 'text') {
    // CAST(x AS VARCHAR) as Snowflake writes it, under the session's output formats.
    switch (sourceKind) {
      case 'timestamp_ntz': return formatSql(x, '0', String(parameters.TIMESTAMP_NTZ_OUTPUT_FORMAT || fallback));
      case 'timestamp_ltz': return formatSql(`CAST(${x} AS TIMESTAMP)`, offsetSql(x), String(parameters.TIMESTAMP_LTZ_OUTPUT_FORMAT || fallback));
      case 'timestamp_tz': return formatSql(tzWall(x), tz(x), String(parameters.TIMESTAMP_TZ_OUTPUT_FORMAT || fallback));
      case 'date': return formatSql(`CAST(${x} AS TIMESTAMP)`, '0', String(parameters.DATE_OUTPUT_FORMAT || 'YYYY-MM-DD'));
      case 'time': return formatSql(`(DATE '1970-01-01' + ${x})`, '0', String(parameters.TIME_OUTPUT_FORMAT || 'HH24:MI:SS'));
      case 'boolean': return `CASE WHEN ${x} THEN 'true' WHEN NOT ${x} THEN 'false' END`;
      case 'binary': return `hex(${x})`;
      case 'array': case 'object': return `CAST(to_json(${x}) AS VARCHAR)`;
      default: return `CAST(${x} AS VARCHAR)`;
    }
  }
  switch (kind) {
    case 'boolean': return `CASE WHEN ${x} THEN '1' WHEN NOT ${x} THEN '0' END`;
    case 'date': return `CAST(${x} - DATE '1970-01-01' AS VARCHAR)`;
    case 'time': return epochTextSql(`date_diff('microsecond', TIME '00:00:00', ${x}) * 1000`);
    case 'timestamp_ntz': case 'timestamp_ltz': return epochTextSql(`epoch_ns(${x})`);
    // TIMESTAMP_TZ: "seconds.fraction offset", the offset in minutes plus 1440.
    case 'timestamp_tz': return `${epochTextSql(`epoch_ns(${x})`)} || ' ' || CAST(${tz(x)} + 1440 AS VARCHAR)`;
    case 'binary': return `hex(${x})`;
    case 'array': case 'object': return `CAST(to_json(${x}) AS VARCHAR)`;
    case 'variant': return `CAST(CAST(${x} AS JSON) AS VARCHAR)`;
    default: return `CAST(${x} AS VARCHAR)`;
  }
}

function bindValue(bind: { type: string; value: unknown }): DuckDBValue {
  const value = bind.value;
  if (value === null || value === undefined) return null;
  switch (String(bind.type).toUpperCase()) {
    case 'BOOLEAN': return String(value).toLowerCase() === 'true' || value === '1';
    case 'FIXED': return /^-?\d+$/.test(String(value)) ? BigInt(String(value)) : Number(value);
    case 'REAL': return Number(value);
    default: {
      // Snowflake reads '... 10:00:00.123 +00:00' (a space before the offset, as TZH:TZM formats write it); DuckDB wants none.
      const text = String(value);
      return /^\d{4}-\d\d-\d\d[ T][\d:.]+\s+[+-]\d\d(:?\d\d)?$/.test(text) ? text.replace(/\s+([+-]\d\d(:?\d\d)?)$/, '$1') : text;
    }
  }
}

function statementTypeOf(sql: string): number {
  const word = /^\s*(?:\(\s*)*(\w+)/.exec(sql.replace(/^\s*(--[^\n]*\n|\/\*[\s\S]*?\*\/)*/g, ''))?.[1]?.toUpperCase();
  switch (word) {
    case 'SELECT': case 'WITH': case 'VALUES': return 0x1000;
    case 'INSERT': return 0x3100;
    case 'UPDATE': return 0x3200;
    case 'DELETE': return 0x3300;
    case 'MERGE': return 0x3400;
    case 'SHOW': return 0x4400;
    case 'DESCRIBE': case 'DESC': return 0x4500;
    case 'BEGIN': case 'COMMIT': case 'ROLLBACK': return 0x5000;
    default: return 0x6000;
  }
}

/** The column name Snowflake gives an unaliased expression: its text, unquoted parts upper-cased. */
function snowflakeExpressionName(text: string): string {
  return tokenize(text).map((t) => (t.kind === 'code' ? t.text.toUpperCase().replace(/\s+/g, ' ') : t.text)).join('');
}

/** A DuckDB error as the Snowflake error a user would meet. */
function explainDuckDB(error: unknown): SnowflakeFault {
  const message = (error as Error).message.split('\n')[0]!;
  let m: RegExpExecArray | null;
  if ((m = /(?:Scalar|Table) Function with name "?(\w+)"? does not exist/i.exec(message))) {
    return new SnowflakeFault('002140', `SQL compilation error:\nUnknown function ${m[1]!.toUpperCase()}`, '42601');
  }
  if ((m = /Could not convert string '([^']*)' to (\w+)/i.exec(message))) {
    const what = /INT|DECIMAL|DOUBLE|FLOAT/i.test(m[2]!) ? ['100038', 'Numeric value'] : /DATE$/i.test(m[2]!) ? ['100040', 'Date'] : ['100035', 'Timestamp'];
    return new SnowflakeFault(what[0]!, `${what[1]} '${m[1]}' is not recognized`, '22018');
  }
  if ((m = /Table with name (\S+) does not exist/i.exec(message)) || (m = /Catalog "?([^"!]+)"? does not exist/i.exec(message)) || (m = /Schema with name "?([^"!\s]+)"? does not exist/i.exec(message))) {
    return new SnowflakeFault('002003', `SQL compilation error:\nObject '${snowflakeName(m[1]!.replace(/"/g, ''))}' does not exist or not authorized.`, '02000');
  }
  if ((m = /Referenced column "?([^"\s]+)"? not found/i.exec(message)) || (m = /column "?([^"\s]+)"? (?:does not exist|not found)/i.exec(message))) {
    return new SnowflakeFault('000904', `SQL compilation error: error line 1 at position 7\ninvalid identifier '${snowflakeName(m[1]!)}'`, '42000');
  }
  if (/Conversion Error|Could not convert|Invalid Input/i.test(message)) {
    return new SnowflakeFault('100040', `Date '${message.replace(/^.*?: /, '')}' is not recognized`, '22007');
  }
  return new SnowflakeFault('001003', `SQL compilation error:\n${message.replace(/^[A-Za-z ]+Error: /, '')}`, '42000');
}
