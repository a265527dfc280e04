// Webhook notices: a JSON summary POSTed when a run fails or rejects too much.
import type { SyncDefinition } from '../config/schema.js';
import type { RunSummary } from '../engine/run.js';
import { redact, registerSecret } from '../core/redact.js';
import { loadUndici } from '../core/undici.js';
import { runSummaryJson, userAgent } from './output.js';
import type { Reporter } from './report.js';
import { ExitCode } from '../core/types.js';

/** Posts the run's summary to the sync's webhook (or PINSYNC_WEBHOOK) if it failed (before reading too) or exceeded the reject rate. */
export async function notifyIfNeeded(sync: SyncDefinition, summary: RunSummary, exitCode: ExitCode, reporter: Reporter): Promise<void> {
  registerSecret(process.env.PINSYNC_WEBHOOK);
  const url = sync.notify?.webhook ?? process.env.PINSYNC_WEBHOOK;
  // A failure is one whatever its exit code (a mapped column the source no longer has is a 2).
  const event = summary.error ? 'run_failed' : exitCode === ExitCode.rejectsExceeded && !summary.interrupted ? 'rejects_exceeded' : undefined;
  if (!url || !event) return;
  const body = redact(JSON.stringify({ ...runSummaryJson(sync, summary, exitCode), event }));
  try {
    // Loaded only when there is something to post: most runs never need it.
    const { request } = await loadUndici();
    const response = await request(url, {
      method: 'POST', body, headers: { 'content-type': 'application/json', 'user-agent': userAgent() },
      headersTimeout: 10_000, bodyTimeout: 10_000,
    });
    await response.body.dump();
    if (response.statusCode >= 300) reporter.warn(sync.name, `webhook answered ${response.statusCode}`);
  } catch (error) {
    // A notice that cannot be delivered must not change the run's outcome.
    reporter.warn(sync.name, `webhook failed: ${(error as Error).message}`);
  }
}
