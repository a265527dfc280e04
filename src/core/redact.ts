// Keeping secrets and personal data out of everything pinsync prints or stores.

const secrets = new Set<string>();

/** Remembers a value (a token, a password, a connection string) that must never be shown. */
export function registerSecret(value: string | undefined): void {
  if (!value || value.length < 6) return;
  secrets.add(value);
  // Also as it reads inside JSON (logs, webhook bodies are redacted after serializing).
  secrets.add(JSON.stringify(value).slice(1, -1));
}

/** Whether a value may be shown: short, no @, fewer than seven digits, one line. */
export function isSafeToShow(text: string): boolean {
  return text.length <= 24 && !text.includes('@') && text.replace(/\D/g, '').length < 7 && !/[\r\n]/.test(text);
}

const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:/\s@]+:)[^@/\s]+@/gi;
const TOKEN_PARAM = /\b(\w*(?:token|password|secret|key))=[^&\s'"]+/gi;

/** Text with every registered secret, URL password and token parameter masked. */
export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('***');
  return out.replace(URL_PASSWORD, '$1***@').replace(TOKEN_PARAM, '$1=***');
}

/** A driver's error message with quoted values that could be data (an email, a phone) masked. */
export function redactQuoted(text: string): string {
  return redact(text).replace(/'([^']*)'|"([^"]*)"/g, (all, single?: string, double?: string) => {
    const inner = single ?? double ?? '';
    return isSafeToShow(inner) ? all : `${all[0]}…${all[0]}`;
  });
}
