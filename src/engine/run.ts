// A run: read -> map (the pipeline) -> batch -> send (limited concurrency, back-pressure) ->
// settle. The parts: the batcher (pages into batches), the dispatcher (the sending window),
// the committer (in-order settling and the checkpoint), and the summary, here.
import type { SyncDefinition } from '../config/schema.js';
import type { Position } from '../sources/types.js';
import { ZERO_COUNTS, type RunCounts, type StateStore } from '../state/store.js';
import { openLedger, type Ledger } from './ledger.js';
import type { UserKey } from '../core/event-schema.js';
import type { CursorKind } from '../sources/cursor.js';
import { readUntil } from './cursor.js';
import { Batcher } from './batcher.js';
import { Committer } from './committer.js';
import { Dispatcher, type EventSender } from './dispatcher.js';
import { ReasonCounts } from './reasons.js';
import { AdaptiveConcurrency, FixedConcurrency, type ConcurrencyLimit, type ConcurrencyReport } from '../pinterest/concurrency.js';
import { MAX_CONCURRENCY } from '../config/schema.js';
import type { PageReader } from './reader.js';
import type { AudienceReport } from './audience.js';
import { RunControl, UnsettledEvents } from './run-control.js';


export interface RunProgress extends RunCounts {
  batchesSettled: number;
  /** Batches the run may have in flight now. */
  concurrency: number;
}

export interface RunOptions {
  sync: SyncDefinition;
  /** Mapped pages of the sync's source (read on a worker thread, for a CLI run). */
  reader: PageReader;
  sender: EventSender;
  /** Told of every request by the sender; default: from destination.concurrency (a fresh `auto` controller, or the pinned number). */
  concurrency?: ConcurrencyLimit;
  /** Where checkpoints, runs and rejects go; absent for a remote test, which keeps no state. */
  store?: StateStore;
  /** Without a store (a remote test): state read, never written, for the checkpoint and ledger. */
  readState?: StateStore;
  /** The cursor column's kind (see sources/cursor.ts); undefined without a cursor. */
  cursorKind?: CursorKind;
  /** Read from the start, ignoring the checkpoint. */
  fullRefresh?: boolean;
  /** Sending with ?test=true: Pinterest records nothing, so neither does the ledger. */
  testMode?: boolean;
  onProgress?: (progress: RunProgress) => void;
  /**
   * Stops the run early: reading stops, batches in flight settle and are checkpointed.
   * An Error as the abort reason fails the run (a lost lock); anything else interrupts it.
   */
  signal?: AbortSignal;
  /** The run's record, started by the caller (so a run that fails before reading has one too). */
  runId?: number;
}

export interface RunSummary extends RunCounts {
  runId?: number;
  /** Rejections grouped by reason, local and Pinterest's. */
  rejectsByReason: Map<string, number>;
  droppedIdentifiers: ReadonlyMap<UserKey, number>;
  startedAt: Date;
  durationMs: number;
  /** Where the next run starts. */
  checkpoint: Position | null;
  /** Set when the run failed; the checkpoint is at the last settled batch. */
  error?: Error;
  /** Stopped by a signal (SIGTERM, SIGINT) after settling what was in flight. */
  interrupted?: boolean;
  /** How it sent: the concurrency it settled at, requests, 429s (absent for a run that never started sending). */
  sending?: ConcurrencyReport;
  /** An audience run's list and changes (absent for events). */
  audience?: AudienceReport;
}

/** The concurrency a sync file asks for: pinned, or adaptive up to the cap. */
export function concurrencyFor(setting: SyncDefinition['destination']['concurrency']): ConcurrencyLimit {
  return setting === 'auto' ? new AdaptiveConcurrency(MAX_CONCURRENCY) : new FixedConcurrency(setting);
}

/**
 * Rejects over the rows a run settled: rows it re-read that were settled before (lookback, a
 * date cursor's day, every row without a cursor) would water the rate down to nothing, and
 * rows the sync file skips on purpose are not rejects to weigh either.
 */
export function rejectRate(counts: Pick<RunCounts, 'rowsRead' | 'alreadyDelivered' | 'skipped' | 'rejectedLocal' | 'rejectedPinterest'>): number {
  const settled = counts.rowsRead - counts.alreadyDelivered - counts.skipped;
  return settled > 0 ? (counts.rejectedLocal + counts.rejectedPinterest) / settled : 0;
}

export async function runSync(options: RunOptions): Promise<RunSummary> {
  const { sync, reader, sender, store } = options;
  const concurrency = options.concurrency ?? concurrencyFor(sync.destination.concurrency);
  const startedAt = new Date();
  const counts: RunCounts = { ...ZERO_COUNTS };
  const reasons = new ReasonCounts();

  const state = store ?? options.readState;
  const checkpoint = options.fullRefresh ? undefined : await state?.checkpoint(sync.name);
  // Events an earlier run sent but never settled: always the first ones after the checkpoint,
  // so this run's first `priorUnsettled` events are resends (same event_id).
  const priorUnsettled = options.fullRefresh || !store ? 0 : await store.unsettledEvents(sync.name);
  const runId = options.runId ?? (store ? await store.startRun(sync.name) : undefined);
  const ledger = await openLedger(sync, state, {
    consult: !options.fullRefresh, record: store !== undefined && !options.testMode, cursorKind: options.cursorKind, checkpoint,
  });
  // Rows stamped later than now wait for a later run.
  const until = readUntil(options.cursorKind, startedAt.getTime());
  // Only chooses a progress message; a state that cannot answer fails the run at its first write.
  const deliveredBefore = (await state?.hasProcessed(sync.name).catch(() => false)) ?? false;

  const control = new RunControl(options.signal);
  const unsettled = new UnsettledEvents(priorUnsettled);
  const committer = new Committer({
    syncName: sync.name, store, runId, ledger, started: checkpoint?.position, counts, reasons, unsettled,
    onCommit: (batchesSettled) => {
      control.changed();
      options.onProgress?.({ ...counts, batchesSettled, concurrency: concurrency.limit });
    },
  });
  const dispatcher = new Dispatcher({
    syncName: sync.name, concurrency, sender, store, control, committer, unsettled, counts, deliveredBefore,
  });
  const batcher = new Batcher({ batchSize: sync.destination.batch_size, ledger, priorUnsettled, counts, reasons });
  const stopped = () => control.stopped;
  const dispatch = (batch: Parameters<Dispatcher['dispatch']>[0]) => dispatcher.dispatch(batch);

  try {
    // Pages of one batch: fewer rows alive at once on the reading thread, so cheaper scavenges.
    for await (const page of reader.pages({ after: ledger.start, pageSize: sync.destination.batch_size, until })) {
      if (!await batcher.add(page, dispatch, stopped)) break;
    }
    // An interrupted run leaves its partial batch unsent: the checkpoint is before it.
    const rest = batcher.rest();
    if (rest && !control.stopped) await dispatcher.dispatch(rest);
  } catch (error) {
    control.record(error);
  }
  await dispatcher.drain();
  await committer.done().catch((error: unknown) => control.record(error));
  control.failIfAbortedWithError();
  return { ...await summarize(options, { counts, reasons, ledger, dropped: batcher.dropped, startedAt, runId, control, committer, unsettled }), sending: concurrency.report() };
}

/** After the last batch: the state's last writes and the run's record, then what the run did. */
async function summarize(
  options: RunOptions,
  run: { counts: RunCounts; reasons: ReasonCounts; ledger: Ledger; dropped: [UserKey, number][]; startedAt: Date; runId?: number; control: RunControl; committer: Committer; unsettled: UnsettledEvents },
): Promise<RunSummary> {
  const { sync, store } = options;
  const { counts, control, committer, runId } = run;
  const interrupted = control.interrupted;
  let committed = committer.committed;
  if (store && runId !== undefined) {
    try {
      // What was dispatched and never committed (after a failure) is resent by the next run.
      await store.saveUnsettled(sync.name, run.unsettled.now());
      await run.ledger.finish(committed);
      // Without a cursor the checkpoint only serves to resume a failed run; a finished run
      // leaves none, so the next run reads every row again.
      if (!control.fatal && !interrupted && sync.source.cursor === undefined) {
        await store.saveCheckpoint(sync.name, null);
        committed = null;
      }
    } catch (error) {
      // The state failed: so did the run, which still reports what it did.
      control.record(error);
    }
    const fatal = control.fatal;
    const outcome = fatal ? 'failed' : interrupted ? 'interrupted' : rejectRate(counts) > sync.options.max_reject_rate ? 'rejects_exceeded' : 'succeeded';
    // Best effort: a state that cannot take the record must not hide the summary.
    await store.finishRun(runId, outcome, counts, fatal?.message).catch(() => undefined);
  }
  const fatal = control.fatal;
  return {
    ...counts, runId, rejectsByReason: run.reasons, droppedIdentifiers: new Map(run.dropped), startedAt: run.startedAt,
    durationMs: Date.now() - run.startedAt.getTime(), checkpoint: committed, ...(fatal ? { error: fatal } : {}), ...(interrupted ? { interrupted } : {}),
  };
}
