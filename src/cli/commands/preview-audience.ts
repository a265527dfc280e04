// What an audience run would change: counts to add, remove and keep, and a sample of the
// digests; never a raw identifier. Sends nothing, writes no state.
import type { LoadedSync } from '../../config/load.js';
import type { SyncDefinition } from '../../config/schema.js';
import { AUDIENCE_RECORDS_PER_REQUEST } from '../../config/schema.js';
import { listName, planAudience, removalRefusal } from '../../engine/audience.js';
import { openAudienceSource } from '../../engine/prepare.js';
import { rejectRate } from '../../engine/run.js';
import { ExitCode } from '../../core/types.js';
import { groupedLines, lineWriter, plural } from '../output.js';
import { openStateReadOnly } from '../state.js';

const DEFAULT_SAMPLE = 10;

export async function previewAudience(
  loaded: LoadedSync & { sync: SyncDefinition }, options: { state?: string; fullRefresh?: boolean; limit?: number; format: 'ndjson' | 'table' },
): Promise<ExitCode> {
  const { sync } = loaded;
  const { source, reader } = await openAudienceSource(sync, loaded);
  const state = options.fullRefresh ? undefined : await openStateReadOnly(options.state);
  try {
    const plan = await planAudience(sync, source, reader, state);
    for (const r of plan.rejects) process.stderr.write(`${r.primaryKey}: ${r.reason}\n`);
    const known = await state?.audienceList(sync.name);
    const sample = options.limit ?? DEFAULT_SAMPLE;
    const refusal = removalRefusal(sync, plan);
    const perRequest = sync.destination.records_per_request ?? AUDIENCE_RECORDS_PER_REQUEST;
    const requests = Math.ceil(plan.toAdd.length / perRequest) + Math.ceil(plan.toRemove.length / perRequest);
    const write = lineWriter(process.stdout);
    if (options.format === 'table') {
      await write(`customer list: ${known ? `${known.listId} '${known.listName}'` : `'${listName(sync)}' (not known to pinsync yet: the first run finds it by name or creates it)`} (${reader.listType})`);
      await write(`members in the query ${plan.members}; add ${plan.toAdd.length}, remove ${plan.toRemove.length}, keep ${plan.kept}; ${plural(requests, 'request')} of at most ${perRequest} records`);
      for (const digest of plan.toAdd.slice(0, sample)) await write(`ADD     ${digest}`);
      for (const digest of plan.toRemove.slice(0, sample)) await write(`REMOVE  ${digest}`);
    } else {
      await write(JSON.stringify({
        sync: sync.name, kind: 'audience', customer_list_id: known?.listId ?? null, customer_list_name: known?.listName ?? listName(sync), list_type: reader.listType,
        members: plan.members, add: plan.toAdd.length, remove: plan.toRemove.length, keep: plan.kept, known_size: plan.known, unsettled: plan.unsettled, approved_earlier: plan.approved,
        requests, records_per_request: perRequest, sample_add: plan.toAdd.slice(0, sample), sample_remove: plan.toRemove.slice(0, sample),
        removal_guard: refusal ?? null,
      }));
    }
    process.stderr.write(`preview of ${sync.name} (${sync.file}): nothing was sent\n`);
    process.stderr.write(`${[
      `rows read ${plan.rowsRead}, rejected ${plan.rejects.length}${plan.skipped > 0 ? `, skipped ${plan.skipped} (by skip:)` : ''}; ${plan.members} distinct members`,
      ...groupedLines('rejected by reason:', plan.rejectsByReason),
    ].join('\n')}\n`);
    process.stderr.write(`would add ${plan.toAdd.length}, remove ${plan.toRemove.length} and keep ${plan.kept} (the list has ${plan.known} as pinsync knows it)\n`);
    if (refusal) {
      process.stderr.write(`a run would be refused: ${refusal}\n`);
      return ExitCode.rejectsExceeded;
    }
    const rate = rejectRate({ rowsRead: plan.rowsRead, alreadyDelivered: 0, skipped: plan.skipped, rejectedLocal: plan.rejects.length, rejectedPinterest: 0 });
    if (rate > sync.options.max_reject_rate) {
      process.stderr.write(`rejected ${(rate * 100).toFixed(1)}% of rows read, above options.max_reject_rate ${sync.options.max_reject_rate}\n`);
      return ExitCode.rejectsExceeded;
    }
    return ExitCode.success;
  } finally {
    await state?.close();
    await source.close();
  }
}
