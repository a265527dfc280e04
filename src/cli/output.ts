// Output helpers: stdout with back-pressure, and the human summaries of previews and runs.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { readFileSync } from 'node:fs';
import type { SyncDefinition } from '../config/schema.js';
import type { MapStats } from '../engine/preview.js';
import type { RunSummary } from '../engine/run.js';
import type { ConcurrencyReport } from '../pinterest/concurrency.js';
import type { Position, Source } from '../sources/types.js';
import { countColumns } from '../state/store.js';
import { DROP_REASONS } from '../mapping/normalize.js';
import { ExitCode } from '../core/types.js';
import { RemovalGuardError } from '../core/errors.js';

/** Writes text, waiting for 'drain' when the stream's buffer is full, so memory stays flat. */
export function lineWriter(stream: Writable): (line: string) => void | Promise<void> {
  return (line) => {
    if (!stream.write(`${line}\n`)) return once(stream, 'drain').then(() => undefined);
  };
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function formatStats(stats: MapStats): string {
  return [
    `rows read ${stats.rowsRead}, events ${stats.events}, rejected ${stats.rejected}${stats.skipped > 0 ? `, skipped ${stats.skipped} (by skip:)` : ''}${stats.alreadyDelivered > 0 ? `, already settled ${stats.alreadyDelivered} (delivered or rejected before; not sent again)` : ''}`,
    ...groupedLines('rejected by reason:', stats.rejectsByReason),
    ...droppedLines(stats.droppedIdentifiers),
  ].join('\n');
}

function droppedLines(dropped: MapStats['droppedIdentifiers'], indent = ''): string[] {
  const labelled = [...dropped].map(([key, count]): [string, number] => [`${key}: ${DROP_REASONS[key]}`, count]);
  return groupedLines('identifier values left out as unusable (their rows were still mapped):', labelled, indent);
}


const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
export const VERSION = version;

export function userAgent(): string {
  return `pinsync/${VERSION} (node ${process.version})`;
}

/** A titled list of counts, largest first; nothing when there are none. */
export function groupedLines(title: string, groups: Iterable<[string, number]>, indent = ''): string[] {
  const sorted = [...groups].sort((a, b) => b[1] - a[1]);
  return sorted.length === 0 ? [] : [`${indent}${title}`, ...sorted.map(([label, count]) => `${indent}  ${String(count).padStart(7)}  ${label}`)];
}

function formatPosition(p: RunSummary['checkpoint']): string {
  if (!p) return 'none (the next run starts at the beginning)';
  return p.cursor === null ? `primary key ${p.key}` : `${p.cursor}${p.key === null ? '' : ` (primary key ${p.key})`}`;
}

/** An audience run: the list, what changed, what was rejected. */
function formatAudienceSummary(sync: SyncDefinition, s: RunSummary): string {
  const a = s.audience;
  const refused = s.error instanceof RemovalGuardError;
  const outcome = refused ? 'REFUSED (removals)' : s.error ? 'FAILED' : s.interrupted ? 'interrupted (the next run finishes the changes)' : 'done';
  const lines = [`${sync.name}: ${outcome}${s.runId !== undefined ? `, run ${s.runId}` : ''}`];
  lines.push(`  rows read ${s.rowsRead}, rejected ${s.rejectedLocal}${s.skipped > 0 ? `, skipped ${s.skipped}` : ''}`);
  if (a) {
    const list = a.listId === null ? `customer list '${a.listName}' (not created yet)` : `customer list ${a.listId} '${a.listName}' (${a.listType})`;
    const how = a.created ? ', created by this run' : a.adopted ? ', found by its name' : '';
    // TOO_SMALL is Pinterest's verdict, not a failure: say what it takes.
    const small = a.status === 'TOO_SMALL' ? ' (fewer than 100 members matched Pinterest accounts yet; matching takes up to about a day)' : '';
    lines.push(`  ${list}${how}${a.status ? `; Pinterest's status: ${a.status}${small}` : ''}${a.audienceId ? `; audience ${a.audienceId}` : ''}`);
    lines.push(`  added ${a.added}, removed ${a.removed}, kept ${a.kept}; ${a.size} members as pinsync knows them`);
    if (s.resent > 0) lines.push(`  resent ${s.resent} records an interrupted run had sent without settling (adding and removing are idempotent)`);
    lines.push(`  ${(s.durationMs / 1000).toFixed(1)}s; ${plural(a.requests.requests, 'request')}, ${a.requests.throttled} answered 429 (rate-limited)`);
  } else {
    lines.push(`  ${(s.durationMs / 1000).toFixed(1)}s`);
  }
  // A row's one identifier left out is its reject: listed once, by reason.
  lines.push(...groupedLines('rejected by reason:', s.rejectsByReason, '  '));
  return lines.join('\n');
}

/** The run summary's `audience` object. */
export function audienceJson(s: RunSummary): Record<string, unknown> | undefined {
  const a = s.audience;
  if (!a) return undefined;
  return {
    customer_list_id: a.listId, customer_list_name: a.listName, list_type: a.listType, created: a.created, adopted: a.adopted, audience_id: a.audienceId,
    pinterest_status: a.status, members: a.members, added: a.added, removed: a.removed, kept: a.kept, size: a.size,
    requests: a.requests.requests, answered_429: a.requests.throttled,
  };
}

/** The outcome word of a run summary and the JSON log. */
export function outcomeOf(s: RunSummary, exitCode: ExitCode): string {
  if (s.error instanceof RemovalGuardError) return 'removals_refused';
  return s.error ? 'failed' : s.interrupted ? 'interrupted' : exitCode === ExitCode.rejectsExceeded ? 'rejects_exceeded' : 'succeeded';
}

export function formatRunSummary(sync: SyncDefinition, s: RunSummary): string {
  if (sync.kind === 'audience') return formatAudienceSummary(sync, s);
  const seconds = s.durationMs / 1000;
  const rate = seconds > 0 ? Math.round(s.eventsSent / seconds) : 0;
  const outcome = s.error ? 'FAILED' : s.interrupted ? 'interrupted (the next run continues from the checkpoint)' : 'done';
  const lines = [
    `${sync.name}: ${outcome}${sync.destination.test ? ' (test mode: Pinterest did not record the events)' : ''}${s.runId !== undefined ? `, run ${s.runId}` : ''}`,
    `  rows read ${s.rowsRead}, events sent ${s.eventsSent}, processed ${s.processed}, rejected ${s.rejectedLocal + s.rejectedPinterest} (${s.rejectedLocal} locally, ${s.rejectedPinterest} by Pinterest)${s.skipped > 0 ? `, skipped ${s.skipped}` : ''}`,
  ];
  if (s.resent > 0) lines.push(`  resent ${s.resent} events an interrupted run had sent (same event_id, so Pinterest deduplicates them)`);
  if (s.alreadyDelivered > 0) lines.push(`  ${s.alreadyDelivered} rows read again were settled before (delivered or rejected) and not sent or counted again`);
  lines.push(`  ${seconds.toFixed(1)}s, ${rate} events/s; checkpoint: ${formatPosition(s.checkpoint)}`);
  if (s.sending && s.sending.requests > 0) lines.push(`  ${formatSending(s.sending)}`);
  lines.push(...groupedLines('rejected by reason:', s.rejectsByReason, '  '), ...droppedLines(s.droppedIdentifiers, '  '));
  return lines.join('\n');
}

/** How a run sent: where `auto` settled, and the 429s it met. */
function formatSending(sending: ConcurrencyReport): string {
  const concurrency = sending.setting === 'auto'
    ? `concurrency auto settled at ${sending.settled}${sending.max > sending.settled ? ` (at most ${sending.max})` : ''}`
    : `concurrency ${sending.setting}`;
  return `${concurrency}; ${plural(sending.requests, 'request')}, ${sending.throttled} answered 429 (rate-limited)`;
}

/** The run summary's and the JSON log's `sending` object. */
export function sendingJson(sending: ConcurrencyReport | undefined): Record<string, unknown> | null {
  return sending ? {
    concurrency: sending.setting, settled_concurrency: sending.settled, max_concurrency: sending.max, requests: sending.requests, answered_429: sending.throttled,
  } : null;
}

export function runSummaryJson(sync: SyncDefinition, s: RunSummary, exitCode: ExitCode): Record<string, unknown> {
  return {
    sync: sync.name, run_id: s.runId ?? null, outcome: outcomeOf(s, exitCode), exit_code: exitCode,
    ...countColumns(s), duration_ms: s.durationMs,
    events_per_s: s.durationMs > 0 ? Math.round(s.eventsSent / (s.durationMs / 1000)) : 0,
    checkpoint: s.checkpoint, rejects_by_reason: Object.fromEntries(s.rejectsByReason), sending: sendingJson(s.sending),
    ...(sync.kind === 'audience' ? { audience: audienceJson(s) ?? null } : {}),
    error: s.error?.message ?? null,
  };
}

/**
 * Rows with a null cursor or primary key are never read, and rows whose cursor is in the
 * future not yet: say so rather than skip them silently. From a checkpoint (`after`), the
 * null ones are not counted: that would scan the whole source on every run.
 */
export async function warnUnreadable(
  sync: SyncDefinition, source: Pick<Source, 'unreadableRows'>, until: string | undefined, warn: (message: string) => void, after?: Position,
): Promise<void> {
  const { missing, future } = await source.unreadableRows(until, after);
  if (missing > 0) {
    const columns = [sync.source.cursor, sync.source.primary_key].filter(Boolean).join(' or ');
    warn(`${missing} row${missing === 1 ? ' has' : 's have'} a null ${columns} and ${missing === 1 ? 'is' : 'are'} not read; give them a value, or COALESCE them in a query`);
  }
  if (future > 0) {
    warn(`${future} row${future === 1 ? ' has' : 's have'} ${sync.source.cursor} later than now (${until} UTC) and ${future === 1 ? 'is' : 'are'} not read yet; `
      + `${future === 1 ? 'it is' : 'they are'} read once time reaches ${future === 1 ? 'it' : 'them'} (a value such as 2099-01-01 or 'infinity' is a data error to fix)`);
  }
}
