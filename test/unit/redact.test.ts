import { describe, expect, it } from 'vitest';
import { redact, redactQuoted, registerSecret } from '../../src/core/redact.js';

describe('redact', () => {
  it('masks a registered secret, also where JSON escaped it', () => {
    registerSecret('pa"ss\\word-42');
    expect(redact('token pa"ss\\word-42 here')).toBe('token *** here');
    expect(redact(JSON.stringify({ error: 'bad pa"ss\\word-42' }))).toBe('{"error":"bad ***"}');
  });

  it('masks URL passwords and token parameters', () => {
    expect(redact('postgres://app:s3cret@db:5432/x and md:prod?motherduck_token=abc')).toBe('postgres://app:***@db:5432/x and md:prod?motherduck_token=***');
  });

  it('masks quoted values that could be identifiers, keeps short safe ones', () => {
    expect(redactQuoted("Could not convert string 'alice@example.com' to INT32 in 'orders'")).toBe("Could not convert string '…' to INT32 in 'orders'");
  });
});
