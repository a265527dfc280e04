import { openSync } from '../../engine/prepare.js';
import { loadSyncFile } from '../../config/load.js';
import { openStateReadOnly, readCheckpoint } from '../state.js';
import { ledgerFor } from '../../engine/ledger.js';
import { describeReasons, previewSync } from '../../engine/preview.js';
import type { Event } from '../../mapping/compile.js';
import { resolveSyncFile } from '../resolve.js';
import { formatStats, lineWriter, warnUnreadable } from '../output.js';
import { executeSync } from '../execute.js';
import { createReporter } from '../report.js';
import { tableFormatter } from '../table.js';

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

export async function previewCommand(syncArg: string, options: PreviewCommandOptions): Promise<number> {
  const file = resolveSyncFile(syncArg, options.syncsDir);
  if (options.remoteTest) return remoteTest(file, options);
  // Preview never needs destination credentials.
  const { sync, source, mapper } = await openSync(file, { requireDestination: false });
  let state: Awaited<ReturnType<typeof openStateReadOnly>>;
  try {
    const write = lineWriter(process.stdout);
    const table = options.format === 'table' ? tableFormatter() : undefined;
    if (table) await write(table.header());
    await warnUnreadable(sync, source, (message) => process.stderr.write(`warning: ${sync.name}: ${message}\n`));
    // What a run would send: from the checkpoint (and its lookback), less what the ledger holds.
    state = options.fullRefresh ? undefined : await openStateReadOnly(options.state);
    const after = (await state?.checkpoint(sync.name))?.position;
    const ledger = state ? ledgerFor(sync, state, { consult: true, record: false }) : undefined;
    const stats = await previewSync(source, mapper, {
      after,
      ledger,
      limit: options.limit,
      onEvent: (json) => write(table ? table.row(JSON.parse(json) as Event) : json),
      onReject: (key, reasons) => {
        process.stderr.write(`${key}: ${describeReasons(reasons)}\n`);
      },
    });
    process.stderr.write(`preview of ${sync.name} (${file}): nothing was sent\n${formatStats(stats)}\n`);
    const rate = stats.rowsRead === 0 ? 0 : stats.rejected / stats.rowsRead;
    // A --limit sample is too small to judge the reject rate by.
    if (options.limit === undefined && rate > sync.options.max_reject_rate) {
      process.stderr.write(`rejected ${(rate * 100).toFixed(1)}% of rows read, above options.max_reject_rate ${sync.options.max_reject_rate}\n`);
      return 3;
    }
    return 0;
  } finally {
    await state?.close();
    await source.close();
  }
}

/** Pinterest validates every batch (?test=true) but records nothing; pinsync writes no state. */
async function remoteTest(file: string, options: PreviewCommandOptions): Promise<number> {
  const loaded = await loadSyncFile(file, { requireDestination: false });
  const startAfter = options.fullRefresh ? undefined : await readCheckpoint(loaded.name, options.state);
  const reporter = createReporter({ format: 'human' });
  const { exitCode } = await executeSync(file, { reporter, test: true, startAfter });
  return exitCode;
}
