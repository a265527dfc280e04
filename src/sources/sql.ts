import { redactQuoted } from '../redact.js';

// SQL text helpers shared by the SQL sources. Identifiers from sync files are always
// quoted, never pasted; values are always bound parameters.

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `schema.table` with each part quoted. */
export function quoteQualified(name: string): string {
  return name.split('.').map(quoteIdentifier).join('.');
}

/** A driver error's first line, with quoted values that could be personal data masked. */
export function firstLine(error: unknown): string {
  return redactQuoted((error instanceof Error ? error.message : String(error)).split('\n')[0]!);
}
