// Each error a Redshift user meets is one sentence with its fix, whatever the driver's error looked like.
import { describe, expect, it } from 'vitest';
import { SourceError } from '../../src/core/errors.js';
import { explainRedshiftError } from '../../src/sources/redshift/errors.js';

const explain = (error: object) => explainRedshiftError(Object.assign(new Error((error as { message?: string }).message ?? ''), error), 'table analytics.orders');

describe('Redshift error sentences', () => {
  it('tells network failures, TLS, credentials, grants, missing tables and SQL errors apart', () => {
    const cases: [object, RegExp][] = [
      [{ code: 'ETIMEDOUT', message: 'connect ETIMEDOUT 10.0.0.1:5439' }, /^cannot connect to Redshift \(connect ETIMEDOUT 10\.0\.0\.1:5439\): .*publicly accessible.*security group/],
      [{ code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND cluster.example' }, /^cannot connect to Redshift/],
      [{ message: 'Connection terminated due to connection timeout' }, /^cannot connect to Redshift/],
      [{ message: 'The server does not support SSL connections' }, /^the server does not offer TLS .*source\.ssl: false/],
      [{ code: 'SELF_SIGNED_CERT_IN_CHAIN', message: 'self-signed certificate in certificate chain' }, /^the server's TLS certificate could not be verified .*ssl: no-verify/],
      [{ code: 'ERR_TLS_CERT_ALTNAME_INVALID', message: "Hostname/IP does not match certificate's altnames" }, /^the server's TLS certificate could not be verified/],
      [{ code: '28000', message: 'no pg_hba.conf entry for host "10.0.0.1", user "u", database "dev", SSL off' }, /^Redshift requires TLS for this connection .*set source\.ssl to true/],
      [{ code: '28000', message: 'password authentication failed for user "u"' }, /^Redshift refused the user name or password/],
      [{ code: '28P01', message: 'password authentication failed for user "ann@example.com"' }, /^Redshift refused the user name or password/],
      [{ code: '3D000', message: 'database "nope" does not exist' }, /^Redshift has no such database/],
      [{ code: '42501', message: 'permission denied for relation orders' }, /^the Redshift user may not read the table analytics\.orders .*GRANT USAGE ON SCHEMA <schema> TO <user> and GRANT SELECT ON <schema>\.<table> TO <user>$/],
      [{ code: '42P01', message: 'relation "analytics.orders" does not exist' }, /^Redshift cannot find the table analytics\.orders .*search_path/],
      [{ code: '3F000', message: 'schema "analytics" does not exist' }, /^Redshift cannot find the table analytics\.orders/],
      [{ code: '42601', message: 'syntax error at or near "SELEC"' }, /^Redshift could not run the table analytics\.orders .*: fix the SQL/],
    ];
    for (const [error, expected] of cases) {
      const explained = explain(error);
      expect(explained).toBeInstanceOf(SourceError);
      expect(explained.message).toMatch(expected);
      // One sentence, with quoted values that could be personal data (an email as a user name) masked.
      expect(explained.message).not.toMatch(/\n|ann@example\.com/);
    }
  });
});
