// A PostgreSQL connection URL whose password holds a raw #, / or ? does not parse, or parses
// into another host: found before connecting, and named without the URL (it holds the password).

const ENCODE_HINT = 'percent-encode special characters in the user name and password (# as %23, / as %2F, ? as %3F, % as %25, @ as %40)';

/** The URL as the pg driver reads it (pg-connection-string's rules), or undefined when it cannot. */
function parseAsPg(url: string): URL | undefined {
  // pg encodes spaces and stray % signs itself, and takes `user@/db?host=…` (an empty host).
  const text = / |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(url) ? encodeURI(url).replace(/%25(\d\d)/g, '%$1') : url;
  for (const candidate of [text, text.replace('@/', '@___DUMMY___/')]) {
    try {
      return new URL(candidate, 'postgres://base');
    } catch {
      // the next form, or none
    }
  }
  return undefined;
}

/** What is wrong with a postgres:// URL, in a sentence that never contains it; undefined when it parses. */
export function postgresUrlProblem(url: string): string | undefined {
  if (url.startsWith('/')) return undefined; // a socket path, as pg takes it
  let parsed: URL | undefined;
  try {
    parsed = parseAsPg(url);
  } catch {
    parsed = undefined; // encodeURI refuses a lone surrogate
  }
  if (!parsed) return `is not a valid URL: ${ENCODE_HINT}`;
  // A # or / or ? in the password ends the host early: the rest lands in the fragment, path or query.
  const credentialsCut = parsed.hash !== '' || (parsed.username === '' && /@/.test(parsed.pathname + parsed.search));
  if (credentialsCut) return `does not parse as user:password@host/database: ${ENCODE_HINT}`;
  try {
    decodeURIComponent(parsed.username);
    decodeURIComponent(parsed.password);
  } catch {
    return `has a % that starts no escape in the user name or password: ${ENCODE_HINT}`;
  }
  return undefined;
}
