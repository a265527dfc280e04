// Rows of mapped pages into batches: each row is sent (an event), rejected locally, skipped on
// purpose, or left out as settled by an earlier run (the ledger); a batch closes at the
// batch size, of events or of rows that send nothing.
import type { EncodedPage } from '../mapping/encode.js';
import { EncodedEvents } from '../core/encoded-events.js';
import type { EventResult } from '../pinterest/client.js';
import type { Position } from '../sources/types.js';
import type { LedgerEntry, RejectRecord, RunCounts } from '../state/store.js';
import { cursorMs, type Ledger } from './ledger.js';
import { textAt } from './packed-texts.js';
import { DUPLICATE_EVENT_ID, describeReasons, reasonLabel, type ReasonCounts } from './reasons.js';
import { pageOfRows, positionAt, rowCount, type ReadPage } from './reader.js';
import { SeenIds } from './seen-ids.js';

export interface Batch {
  seq: number;
  /** The batch's events, as rows of the pages they came from. */
  events: EncodedEvents<ReadPage>;
  localRejects: RejectRecord[];
  /** Rows of the batch the sync file's `skip:` leaves out. */
  skipped: number;
  /** Position of the batch's last row (sent or rejected). */
  last: Position;
  /** Ledger entries of the batch's events, same index (empty when the sync keeps no ledger). */
  ledger: LedgerEntry[];
  results?: EventResult[];
}

export interface BatcherOptions {
  batchSize: number;
  ledger: Ledger;
  /** Events an earlier run left unsettled: this run's first ones are resends. */
  priorUnsettled: number;
  /** The run's counts, which the batcher adds read, settled-before, skipped and rejected rows to. */
  counts: RunCounts;
  reasons: ReasonCounts;
}

export class Batcher {
  /** Identifier values dropped so far, by key (from the latest page). */
  dropped: EncodedPage['dropped'] = [];
  // Event_ids seen, to refuse a second one.
  private readonly seen = new SeenIds();
  private batch: Batch | undefined;
  private nextSeq = 0;
  private eventsRead = 0;

  constructor(private readonly options: BatcherOptions) {}

  /**
   * Sorts a page's rows into batches, handing each full one to `full` (awaited: the sender's
   * back-pressure). Stops at the first row after `stopped()` holds; false then.
   */
  async add(page: ReadPage, full: (batch: Batch) => Promise<void>, stopped: () => boolean): Promise<boolean> {
    const { batchSize, ledger, counts, reasons: byReason } = this.options;
    this.dropped = page.dropped;
    // Rows re-read (lookback, a date cursor's last day, or every run without a cursor) that were settled before.
    const rows = rowCount(page);
    const digests: (string | undefined)[] = [];
    if (ledger.active) {
      for (let i = 0; i < rows; i++) {
        digests.push(ledger.rowDigest(textAt(page.eventIds, i), textAt(page.keys, i)!, positionAt(page, i)));
      }
    }
    const known = await ledger.known(digests);
    const ids = page.eventIds;
    let nextReject = 0;
    let nextSkipped = 0;
    for (let i = 0; i < rows; i++) {
      if (stopped()) return false;
      counts.rowsRead++;
      const batch = (this.batch ??= this.newBatch());
      // A row rejected locally has no event bytes.
      const hasEvent = page.offsets[i + 1] !== page.offsets[i];
      const digest = digests[i];
      const settledBefore = digest !== undefined && known.has(digest);
      // Rows without an event are, in row order, either skipped on purpose or rejected.
      const skipped = !hasEvent && page.skipped[nextSkipped] === i;
      if (skipped) nextSkipped++;
      const reasons = hasEvent || skipped ? undefined : page.rejects[nextReject++]![1];
      // An event_id this run has seen: Pinterest would keep one of the two events.
      const firstOfId = !hasEvent || this.seen.add(ids.text, i > 0 ? ids.ends[i - 1]! : 0, ids.ends[i]!);
      if (settledBefore) {
        counts.alreadyDelivered++;
        continue;
      }
      // A reject is settled under its own digest: once the row maps, its event's digest is another.
      if (digest !== undefined) batch.ledger.push({ digest, cursorMs: cursorMs(positionAt(page, i)) });
      if (skipped) {
        counts.skipped++;
        batch.skipped++;
      } else if (hasEvent && firstOfId) {
        batch.events.add(page, i);
        if (++this.eventsRead <= this.options.priorUnsettled) counts.resent++;
      } else {
        counts.rejectedLocal++;
        if (reasons) for (const reason of reasons) byReason.count(reasonLabel(reason));
        else byReason.count(reasonLabel(DUPLICATE_EVENT_ID));
        batch.localRejects.push({
          primaryKey: textAt(page.keys, i)!, eventId: reasons ? null : textAt(ids, i), stage: 'local', reason: describeReasons(reasons ?? [DUPLICATE_EVENT_ID]),
        });
      }
      // Rows that send nothing still close a batch, so their checkpoint and ledger commit in bounded steps.
      if (batch.events.length >= batchSize || batch.localRejects.length + batch.skipped >= batchSize) {
        batch.last = positionAt(page, i);
        this.batch = undefined;
        await full(batch);
      }
    }
    // A batch that goes on into the next page ends here for now.
    if (this.batch && rows > 0) {
      this.batch.last = positionAt(page, rows - 1);
      this.batch.events.compact(page, (picked) => pageOfRows(page, picked));
    }
    return true;
  }

  /** The last, partial batch, if rows are left in it. */
  rest(): Batch | undefined {
    return this.batch;
  }

  private newBatch(): Batch {
    return { seq: this.nextSeq++, events: new EncodedEvents(), localRejects: [], skipped: 0, ledger: [], last: { cursor: null, key: '' } };
  }
}
