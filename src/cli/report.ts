// What runs tell people and machines: human lines on a terminal, or one pino JSON object per
// line (--log-format json) with stable fields: sync, run_id, phase, counts, duration_ms, error.
// Everything passes through redact(): no token or raw identifier reaches a log.
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { SyncDefinition } from '../config/schema.js';
import type { RunSummary } from '../engine/run.js';
import { redact } from '../core/redact.js';
import { audienceJson, formatRunSummary, runSummaryJson, sendingJson } from './output.js';
import { countColumns } from '../state/store.js';
import { ExitCode } from '../core/types.js';

export type LogFormat = 'human' | 'json';

// pino loads only for JSON logs, so a human-format run never waits for it (docs/adr/0004-cli-bundle.md).
const require = createRequire(import.meta.url);

export interface Reporter {
  readonly format: LogFormat;
  /** A run began; `runId` is its record (none for a remote test). */
  started(sync: string, runId?: number): void;
  finished(sync: SyncDefinition, summary: RunSummary, exitCode: ExitCode): void;
  warn(sync: string | undefined, message: string): void;
  error(sync: string | undefined, message: string, phase?: string): void;
  info(message: string, fields?: Record<string, unknown>): void;
}

export interface ReporterOptions {
  format: LogFormat;
  /** Also print each run's summary as one JSON object on stdout (run --json). */
  jsonSummaries?: boolean;
}

export function createReporter(options: ReporterOptions): Reporter {
  const summaries = options.jsonSummaries
    ? (sync: SyncDefinition, s: RunSummary, code: ExitCode) => process.stdout.write(`${redact(JSON.stringify(runSummaryJson(sync, s, code)))}\n`)
    : undefined;
  if (options.format === 'json') {
    const pino = require('pino') as typeof import('pino').default;
    const log: Logger = pino(
      { base: undefined, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
      pino.destination({ fd: 2, sync: true }),
    );
    return {
      format: 'json',
      started: (sync, runId) => log.info({ sync, run_id: runId ?? null, phase: 'start' }, 'run started'),
      finished: (sync, s, code) => {
        const fields = {
          sync: sync.name, run_id: s.runId ?? null, phase: 'finish', outcome: runSummaryJson(sync, s, code).outcome, exit_code: code,
          counts: countColumns(s), duration_ms: s.durationMs, rejects_by_reason: Object.fromEntries(s.rejectsByReason),
          checkpoint: s.checkpoint, sending: sendingJson(s.sending), ...(sync.kind === 'audience' ? { audience: audienceJson(s) ?? null } : {}),
          ...(s.error ? { error: redact(s.error.message) } : {}),
        };
        if (s.error) log.error(fields, 'run failed');
        // Too many rejects is a finished run that needs a look.
        else if (code === ExitCode.rejectsExceeded) log.warn(fields, 'run finished, rejecting more than options.max_reject_rate');
        else log.info(fields, 'run finished');
        summaries?.(sync, s, code);
      },
      // Every line has a sync field: null for the lines about no one sync (the scheduler's own).
      warn: (sync, message) => log.warn({ sync: sync ?? null, phase: 'warning' }, redact(message)),
      error: (sync, message, phase = 'error') => log.error({ sync: sync ?? null, phase, error: redact(message) }, redact(message)),
      info: (message, fields = {}) => log.info({ sync: null, ...fields }, redact(message)),
    };
  }
  return {
    format: 'human',
    started: () => undefined,
    finished: (sync, s, code) => {
      if (summaries) summaries(sync, s, code);
      else process.stdout.write(`${redact(formatRunSummary(sync, s))}\n`);
      if (s.error) process.stderr.write(`pinsync: ${sync.name}: ${redact(s.error.message)}\n`);
    },
    warn: (sync, message) => process.stderr.write(`warning: ${sync ? `${sync}: ` : ''}${redact(message)}\n`),
    error: (sync, message) => process.stderr.write(`pinsync: ${sync ? `${sync}: ` : ''}${redact(message)}\n`),
    info: (message) => process.stderr.write(`${redact(message)}\n`),
  };
}
