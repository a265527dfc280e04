// The errors a user meets reading from Snowflake, each one sentence with the fix. Driver messages
// are cut to their first line with quoted values masked; no credential is ever in them.
import type { SnowflakeSourceConfig } from '../../config/schema.js';
import { redactQuoted } from '../../core/redact.js';
import { RefusedQueryError, SourceError } from '../types.js';

interface DriverError { code?: string | number; sqlState?: string; message?: string; cause?: unknown; response?: { status?: number; statusCode?: number } }

/** The login the sync file asked for, as the fix names it. */
function authKeys(config: SnowflakeSourceConfig): string {
  if (config.private_key_file !== undefined) return 'source.private_key_file (and source.private_key_passphrase)';
  if (config.oauth_token !== undefined) return 'source.oauth_token';
  return 'source.password';
}

/** Snowflake's message on one line (it puts the object or the syntax error on the second), quoted values that could be data masked. */
function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return redactQuoted(text.split('\n').map((line) => line.trim()).filter(Boolean).join(' ')).replace(/\.$/, '').slice(0, 300);
}

const NETWORK = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH|socket hang up|Network error|Request to Snowflake failed/i;

/** One clear sentence with the fix, for the errors a user can meet. */
/** `midRead`: the error ended a read already streaming, so a network failure is a lost connection, not a wrong account. */
export function explainSnowflakeError(error: unknown, config: SnowflakeSourceConfig, timeout: string = config.statement_timeout, midRead = false): SourceError | RefusedQueryError {
  if (error instanceof SourceError || error instanceof RefusedQueryError) return error;
  const e = (error ?? {}) as DriverError;
  const code = String(e.code ?? '');
  const message = oneLine(error);
  const account = `account ${config.account}`;
  switch (code) {
    case '390100': // wrong password, or an account that is not this one
      return new SourceError(`Snowflake refused the login of user ${config.user ?? '(none)'} on ${account}: check source.account (as in https://<account>.snowflakecomputing.com), source.user and ${authKeys(config)}`);
    case '390144': // JWT refused: the key is not the one registered, or the user/account is wrong
      return new SourceError(`Snowflake refused the key pair of user ${config.user ?? '(none)'} on ${account}: register the public key of source.private_key_file on the user (ALTER USER ... SET RSA_PUBLIC_KEY = '...') and check source.user and source.account`);
    case '390303': case '390318': case '390304':
      return new SourceError(`Snowflake refused the OAuth token on ${account}: it is invalid or expired; get a new token for source.oauth_token`);
    case '000606':
      return new SourceError('Snowflake has no running warehouse for the query: set source.warehouse to a warehouse the role may use (GRANT USAGE ON WAREHOUSE ... TO ROLE ...)');
    case '002003':
      return new SourceError(`Snowflake cannot find it, or the role may not read it: ${message}. Check source.table (or the query), source.database and source.schema, and grant the role USAGE on the database and schema and SELECT on the table`);
    case '000630':
      return new SourceError(`Snowflake cancelled the query after source.statement_timeout (${timeout}): raise it, use a larger warehouse, or read less (a cursor, a narrower query)`);
    case '405505': // the driver's easy-logging file (the user's own) is unreadable, malformed or writable by others
      return new SourceError('the Snowflake driver refused its logging config file sf_client_config.json (in $HOME, or SF_CLIENT_CONFIG_FILE): make it valid JSON and writable only by its owner (chmod 600), or remove it');
    case '404045': // the driver's own check of the account's form (letters, digits, '-', '_', '.')
      return new SourceError(`source.account (${config.account}) is not an account identifier: write the part before .snowflakecomputing.com, e.g. myorg-myaccount`);
    case '000008':
      return new RefusedQueryError('the query holds more than one statement: a sync runs exactly one SELECT; remove the semicolons between statements');
    default:
  }
  // Snowflake answers a login for an account it does not know under that host with a bare HTTP 403 (driver code 401002).
  const status = e.response?.status ?? e.response?.statusCode;
  if (code === '401002' && (status === 403 || status === 404)) {
    return new SourceError(`Snowflake does not know ${account}: check source.account (the part before .snowflakecomputing.com, e.g. myorg-myaccount)`);
  }
  // The driver reads the key file itself: a wrong passphrase or a file that is not a PEM key fails here.
  if (/private ?key|passphrase|decrypt|PEM|bad base64|asn1|DECODER/i.test(e.message ?? '')) {
    return new SourceError('pinsync could not read the private key in source.private_key_file: check the file is a PEM private key (PKCS#8) and source.private_key_passphrase is its passphrase');
  }
  if (NETWORK.test(`${e.message ?? ''} ${String((e.cause as { code?: string } | undefined)?.code ?? '')} ${code}`)) {
    if (midRead) return new SourceError(`the connection to Snowflake was lost while reading rows (${message}): run the sync again, it resumes from its last checkpoint; if it keeps happening, check the network or proxy between this machine and ${account}`);
    return new SourceError(`could not reach Snowflake for ${account}: check source.account (as in https://<account>.snowflakecomputing.com) and that this machine can reach it (network, proxy, firewall)`);
  }
  if (/^(39|08)/.test(code) || /authenticat|login/i.test(e.message ?? '')) {
    return new SourceError(`Snowflake refused the login on ${account} (${message}): check source.account, source.user and ${authKeys(config)}`);
  }
  return new SourceError(`Snowflake rejected the SQL: ${message}`);
}
