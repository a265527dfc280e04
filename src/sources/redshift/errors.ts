// The errors a Redshift user meets, each as one sentence with its fix (docs/redshift.md, troubleshooting).
import { firstLine } from '../sql.js';
import { SourceError } from '../types.js';

const NETWORK = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);
const CERTIFICATE = /CERT|SIGNATURE|ALTNAME|ISSUER/;

// After the connection was made, a socket error (keepalive probes unanswered: ETIMEDOUT) means it was lost.
const LOST_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * The error of a connection that ended after it was made (the session ended by an administrator or
 * a restart, the socket reset), or undefined: nothing in the SQL to fix, the run is to be repeated.
 */
export function connectionLost(error: unknown, what: string): SourceError | undefined {
  const { code = '', message = '' } = (error ?? {}) as { code?: string; message?: string };
  if (!LOST_CODES.has(code) && !/Connection terminated|not queryable|terminating connection/i.test(message)) return undefined;
  return new SourceError(`the connection to Redshift was lost while reading the ${what} (${firstLine(error)}): run the sync again, it resumes from its last checkpoint; if this repeats, SYS_SESSION_HISTORY shows whether the session timed out or was closed (a restart, a resize, PG_TERMINATE_BACKEND)`);
}

/** `what`: the table (`table analytics.orders`) or `query`, as the sync file names the source. */
export function explainRedshiftError(error: unknown, what: string): SourceError {
  const { code = '', message = '' } = (error ?? {}) as { code?: string; message?: string };
  const line = firstLine(error);
  if (/does not support SSL/i.test(message)) {
    return new SourceError(`the server does not offer TLS (${line}): Redshift endpoints always do, so check source.host and source.port; set source.ssl: false only for a server without TLS on a private network`);
  }
  if (CERTIFICATE.test(code)) {
    return new SourceError(`the server's TLS certificate could not be verified (${line}): connect with the endpoint's own host name, not an IP address or a tunnel's localhost, or set source.ssl: no-verify to keep TLS without the check`);
  }
  if ((code === '28000' || code === '28P01') && /SSL off|pg_hba/i.test(message)) {
    return new SourceError(`Redshift requires TLS for this connection (${line}): set source.ssl to true (the cluster's require_ssl parameter is on)`);
  }
  if (code === '28000' || code === '28P01') {
    return new SourceError(`Redshift refused the user name or password (${line}): check source.user and source.password (in a url, the password percent-encoded)`);
  }
  if (code === '57014') {
    return new SourceError(`Redshift cancelled the read of the ${what} (${line}): a time limit ended it (statement_timeout, a WLM queue timeout or a query monitoring rule) or an administrator did; raise the limit for pinsync's user, or run the sync again, it resumes from its last checkpoint`);
  }
  // pg's own connect timeouts ("timeout expired", "connection timeout"), not a statement's.
  if (NETWORK.has(code) || /timeout expired|connection timeout|terminated unexpectedly/i.test(message)) {
    return new SourceError(`cannot connect to Redshift (${line}): check the endpoint host and port (5439 unless changed), that the cluster or workgroup is publicly accessible or reachable from this network, and that its VPC security group allows inbound TCP on that port from here`);
  }
  if (code === '3D000') {
    return new SourceError(`Redshift has no such database (${line}): check source.database or the url's path (a new cluster's first database is dev)`);
  }
  if (code === '42501') {
    return new SourceError(`the Redshift user may not read the ${what} (${line}): have an administrator run GRANT USAGE ON SCHEMA <schema> TO <user> and GRANT SELECT ON <schema>.<table> TO <user>`);
  }
  if (code === '42P01' || code === '3F000') {
    return new SourceError(`Redshift cannot find the ${what} (${line}): write the table as schema.table (a name without a schema is looked up in the user's search_path, public by default)`);
  }
  return new SourceError(`Redshift could not run the ${what} (${line}): fix the SQL, trying it in the Redshift query editor first`);
}
