import { loadSyncFile } from '../../config/load.js';
import { ConfigError } from '../../core/errors.js';
import { locateRefusal, openPipeline } from '../../engine/prepare.js';
import { localPipeline } from '../../engine/pipeline.js';
import { openStateReadOnly } from '../state.js';
import { openLedger } from '../../engine/ledger.js';
import { readUntil } from '../../engine/cursor.js';
import { previewSync } from '../../engine/preview.js';
import { describeReasons } from '../../engine/reasons.js';
import { rejectRate } from '../../engine/run.js';
import type { Event } from '../../mapping/compile.js';
import { resolveSyncFile } from '../resolve.js';
import { formatStats, lineWriter, warnUnreadable } from '../output.js';
import { executeSync } from '../execute.js';
import { createReporter } from '../report.js';
import { tableFormatter } from '../table.js';
import { ExitCode } from '../../core/types.js';
import { previewAudience } from './preview-audience.js';

export interface PreviewCommandOptions {
  syncsDir: string;
  limit?: number;
  format: 'ndjson' | 'table';
  /** Send the batches with ?test=true instead of printing them; still no state. */
  remoteTest?: boolean;
  /** Read from the start instead of from the checkpoint. */
  fullRefresh?: boolean;
  state?: string;
}

export async function previewCommand(syncArg: string, options: PreviewCommandOptions): Promise<ExitCode> {
  const file = resolveSyncFile(syncArg, options.syncsDir);
  if (options.remoteTest) return remoteTest(file, options);
  // Preview never needs destination credentials.
  const loaded = await loadSyncFile(file, { requireDestination: false });
  if (!loaded.sync) throw new ConfigError(loaded.problems);
  const sync = loaded.sync;
  if (sync.kind === 'audience') {
    try {
      return await previewAudience({ ...loaded, sync }, options);
    } catch (error) {
      throw locateRefusal(error, loaded);
    }
  }
  const pipeline = localPipeline();
  let state: Awaited<ReturnType<typeof openStateReadOnly>>;
  try {
    const now = Date.now();
    const { cursorKind, unreadable } = await openPipeline(pipeline, sync, loaded, { now });
    const write = lineWriter(process.stdout);
    const table = options.format === 'table' ? tableFormatter() : undefined;
    if (table) await write(table.header());
    const until = readUntil(cursorKind, now);
    await warnUnreadable(sync, { unreadableRows: async () => unreadable! }, until, (message) => process.stderr.write(`warning: ${sync.name}: ${message}\n`));
    // What a run would send: from the checkpoint (and its lookback), less what the ledger holds.
    state = options.fullRefresh ? undefined : await openStateReadOnly(options.state);
    const checkpoint = await state?.checkpoint(sync.name);
    const ledger = state ? await openLedger(sync, state, { consult: true, record: false, cursorKind, checkpoint }) : undefined;
    const stats = await previewSync(pipeline, {
      after: ledger?.start,
      until,
      ledger,
      limit: options.limit,
      onEvent: (json) => write(table ? table.row(JSON.parse(json) as Event) : json),
      onReject: (key, reasons) => {
        process.stderr.write(`${key}: ${describeReasons(reasons)}\n`);
      },
    });
    process.stderr.write(`preview of ${sync.name} (${file}): nothing was sent\n${formatStats(stats)}\n`);
    const rate = rejectRate({ rowsRead: stats.rowsRead, alreadyDelivered: stats.alreadyDelivered, skipped: stats.skipped, rejectedLocal: stats.rejected, rejectedPinterest: 0 });
    // A --limit sample is too small to judge the reject rate by.
    if (options.limit === undefined && rate > sync.options.max_reject_rate) {
      process.stderr.write(`rejected ${(rate * 100).toFixed(1)}% of rows read${stats.alreadyDelivered > 0 ? ' and not settled before' : ''}, above options.max_reject_rate ${sync.options.max_reject_rate}\n`);
      return ExitCode.rejectsExceeded;
    }
    return ExitCode.success;
  } catch (error) {
    throw locateRefusal(error, loaded);
  } finally {
    await state?.close();
    await pipeline.close();
  }
}

/** Pinterest validates every batch (?test=true) but records nothing; pinsync writes no state. */
async function remoteTest(file: string, options: PreviewCommandOptions): Promise<ExitCode> {
  // Where a run would start, and what its ledger would leave out, exactly as plain preview.
  const readState = await openStateReadOnly(options.state);
  try {
    const reporter = createReporter({ format: 'human' });
    const { exitCode } = await executeSync(file, { reporter, test: true, readState, fullRefresh: options.fullRefresh });
    return exitCode;
  } finally {
    await readState?.close();
  }
}
