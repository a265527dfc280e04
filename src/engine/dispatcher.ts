// Sends batches, at most the concurrency's current limit of them at once, and at most its cap
// between the checkpoint and the reader (sending, or answered and waiting for an earlier batch
// to commit), and hands each one's results to the committer. A pinned concurrency is both; with
// `auto` the limit moves as answers come (pinterest/concurrency.ts) and the cap is 64, so a batch
// waiting out a Retry-After does not stop the others.
import type { EncodedEvents } from '../core/encoded-events.js';
import type { EventResult, SendOptions } from '../pinterest/client.js';
import type { ConcurrencyLimit } from '../pinterest/concurrency.js';
import type { RunCounts, StateStore } from '../state/store.js';
import type { Batch } from './batcher.js';
import type { Committer } from './committer.js';
import type { RunControl, UnsettledEvents } from './run-control.js';

export interface EventSender {
  /** One result per event; `signal` aborts retries that are waiting (the run has failed). */
  send(events: EncodedEvents, signal?: AbortSignal, options?: SendOptions): Promise<EventResult[]>;
}

export interface DispatcherOptions {
  syncName: string;
  /** Read before every batch: a pinned number, or `auto`'s limit of the moment, and the cap. */
  concurrency: Pick<ConcurrencyLimit, 'limit' | 'cap'>;
  sender: EventSender;
  store?: StateStore;
  control: RunControl;
  committer: Committer;
  unsettled: UnsettledEvents;
  counts: Pick<RunCounts, 'processed'>;
  /** Whether Pinterest has processed events of this sync before (any run record says so). */
  deliveredBefore: boolean;
}

export class Dispatcher {
  private readonly inflight = new Set<Promise<void>>();
  // Batches sent and not answered yet (the limit bounds these; the cap bounds the uncommitted).
  private sending = 0;

  constructor(private readonly options: DispatcherOptions) {}

  /** Starts sending a batch once the window has room; returns when it is under way (or the run stopped). */
  async dispatch(batch: Batch): Promise<void> {
    const { syncName, concurrency, store, control, committer, unsettled } = this.options;
    // Events an earlier run left unsettled go one batch at a time: if the first fails again, the
    // batches behind it are not sent (and delivered) once more by every failing run.
    const room = () => unsettled.resending
      ? batch.seq - committer.nextToCommit < 1
      : this.sending < concurrency.limit && batch.seq - committer.nextToCommit < concurrency.cap;
    while (!room() && !control.stopped) await control.whenChanged();
    if (control.stopped) return;
    unsettled.dispatched(batch.events.length);
    // Durable before the request leaves, so a crash from here on is counted as a resend.
    if (store && batch.events.length > 0) await store.saveUnsettled(syncName, unsettled.now());
    this.sending++;
    const task = this.send(batch);
    this.inflight.add(task);
    void task.finally(() => this.inflight.delete(task));
  }

  /** Waits for every batch under way to settle (or fail). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  private async send(batch: Batch): Promise<void> {
    const { sender, control, committer, counts, deliveredBefore } = this.options;
    try {
      // Until Pinterest has taken an event from this sync, a batch refused whole and alike is the request's fault.
      const failFast = !deliveredBefore && counts.processed === 0;
      try {
        batch.results = batch.events.length > 0 ? await sender.send(batch.events, control.halt.signal, { failFast }) : [];
      } finally {
        // Answered (or failed): a slot for the next batch, though this one may wait to commit.
        this.sending--;
        control.changed();
      }
      await committer.settle(batch);
    } catch (error) {
      control.fail(error);
    }
  }
}
