// Settles batches in order: every settled batch in a row commits with its rejects, its ledger
// entries and the checkpoint past it, in one transaction, and the checkpoint never moves past
// a batch that has not settled. A crash at any moment loses nothing.
import type { Position } from '../sources/types.js';
import type { LedgerEntry, RejectRecord, RunCounts, StateStore } from '../state/store.js';
import type { Batch } from './batcher.js';
import type { Ledger } from './ledger.js';
import { textAt } from './packed-texts.js';
import type { ReasonCounts } from './reasons.js';
import type { UnsettledEvents } from './run-control.js';

export interface CommitterOptions {
  syncName: string;
  /** Absent for a remote test, which keeps no state. */
  store?: StateStore;
  runId?: number;
  ledger: Ledger;
  /** The checkpoint the run started from. */
  started: Position | undefined;
  counts: RunCounts;
  reasons: ReasonCounts;
  unsettled: UnsettledEvents;
  /** After each commit: how many batches have settled. */
  onCommit(batchesSettled: number): void;
}

export class Committer {
  /** The checkpoint as committed: where the next run starts. */
  committed: Position | null;
  /** Batches committed so far (the next one to commit has this seq). */
  nextToCommit = 0;
  private readonly settled = new Map<number, Batch>();
  private commits: Promise<void> = Promise.resolve();

  constructor(private readonly options: CommitterOptions) {
    this.committed = options.started ?? null;
  }

  /** A batch whose results are in; commits it once every batch before it has. */
  settle(batch: Batch): Promise<void> {
    this.settled.set(batch.seq, batch);
    this.commits = this.commits.then(() => this.commitReady());
    return this.commits;
  }

  /** Waits for the commits under way; rejects with the first that failed. */
  done(): Promise<void> {
    return this.commits;
  }

  private async commitReady(): Promise<void> {
    const { syncName, store, runId, ledger, counts, reasons, unsettled } = this.options;
    while (this.settled.has(this.nextToCommit)) {
      const ready: Batch[] = [];
      for (let seq = this.nextToCommit; this.settled.has(seq); seq++) {
        ready.push(this.settled.get(seq)!);
        this.settled.delete(seq);
      }
      const rejects: RejectRecord[] = [];
      const delivered: LedgerEntry[] = [];
      let processed = 0;
      let events = 0;
      for (const batch of ready) {
        rejects.push(...batch.localRejects);
        // Settled either way: processed, or refused by Pinterest with its reason.
        if (ledger.record) delivered.push(...batch.ledger);
        batch.results!.forEach((result, i) => {
          if (result.status === 'processed') processed++;
          else {
            const { page, row } = batch.events.at(i);
            rejects.push({ primaryKey: textAt(page.keys, row)!, eventId: textAt(page.eventIds, row)!, stage: 'pinterest', reason: result.error });
          }
        });
        events += batch.events.length;
      }
      const position = ledger.checkpointAfter(ready.at(-1)!.last, this.options.started);
      // The run's record gets its counts as of this commit, in the commit (a killed run shows them).
      const refused = rejects.reduce((n, r) => n + (r.stage === 'pinterest' ? 1 : 0), 0);
      const recorded = { ...counts, processed: counts.processed + processed, eventsSent: counts.eventsSent + events, rejectedPinterest: counts.rejectedPinterest + refused };
      // Counted as settled only once the commit holds: if it fails, these events stay unsettled.
      if (store && runId !== undefined) await store.commitBatch(syncName, runId, rejects, position, unsettled.now(events), delivered, recorded);
      unsettled.committed(events);
      // Counted once durable, so the summary never claims more than the state holds.
      counts.processed += processed;
      counts.eventsSent += events;
      for (const r of rejects) if (r.stage === 'pinterest') {
        counts.rejectedPinterest++;
        reasons.count(`pinterest: ${r.reason}`);
      }
      this.committed = position;
      this.nextToCommit += ready.length;
      this.options.onCommit(this.nextToCommit);
    }
  }
}
