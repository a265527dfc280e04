// Sends batches, at most the concurrency's current limit of them between the checkpoint and the
// reader (sending, or waiting for an earlier batch to commit), and hands each one's results to
// the committer. With `concurrency: auto` the limit moves as answers come (pinterest/concurrency.ts).
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
  /** Read before every batch: a pinned number, or `auto`'s limit of the moment. */
  concurrency: Pick<ConcurrencyLimit, 'limit'>;
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

  constructor(private readonly options: DispatcherOptions) {}

  /** Starts sending a batch once the window has room; returns when it is under way (or the run stopped). */
  async dispatch(batch: Batch): Promise<void> {
    const { syncName, concurrency, store, control, committer, unsettled } = this.options;
    // Events an earlier run left unsettled go one batch at a time: if the first fails again, the
    // batches behind it are not sent (and delivered) once more by every failing run.
    const allowed = () => (unsettled.resending ? 1 : concurrency.limit);
    while (batch.seq - committer.nextToCommit >= allowed() && !control.stopped) await control.whenChanged();
    if (control.stopped) return;
    unsettled.dispatched(batch.events.length);
    // Durable before the request leaves, so a crash from here on is counted as a resend.
    if (store && batch.events.length > 0) await store.saveUnsettled(syncName, unsettled.now());
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
      batch.results = batch.events.length > 0 ? await sender.send(batch.events, control.halt.signal, { failFast }) : [];
      await committer.settle(batch);
    } catch (error) {
      control.fail(error);
    }
  }
}
