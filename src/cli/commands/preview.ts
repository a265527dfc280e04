import { loadSyncFile } from '../../config/load.js';
import { compileForSource } from '../../engine/prepare.js';
import { previewSync, reasonLabel } from '../../engine/preview.js';
import { ConfigError } from '../../errors.js';
import type { Event } from '../../mapping/compile.js';
import { createSource } from '../../sources/index.js';
import { resolveSyncFile } from '../resolve.js';
import { formatStats, lineWriter } from '../output.js';
import { tableFormatter } from '../table.js';

export interface PreviewCommandOptions {
  syncsDir: string;
  limit?: number;
  format: 'ndjson' | 'table';
}

export async function previewCommand(syncArg: string, options: PreviewCommandOptions): Promise<number> {
  const file = resolveSyncFile(syncArg, options.syncsDir);
  // Preview never needs destination credentials.
  const loaded = await loadSyncFile(file, { requireDestination: false });
  if (!loaded.sync) throw new ConfigError(loaded.problems);
  const sync = loaded.sync;
  const source = createSource(sync);
  try {
    const mapper = await compileForSource(sync, loaded, source);
    const write = lineWriter(process.stdout);
    const table = options.format === 'table' ? tableFormatter() : undefined;
    if (table) await write(table.header());
    const stats = await previewSync(source, mapper, {
      limit: options.limit,
      onEvent: (event: Event) => write(table ? table.row(event) : JSON.stringify(event)),
      onReject: (key, reasons) => {
        process.stderr.write(`${key}: ${reasons.map((r) => (r.detail ? `${reasonLabel(r)} (${r.detail})` : reasonLabel(r))).join('; ')}\n`);
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
    await source.close();
  }
}
