// A run: read -> map -> batch -> send (limited concurrency, back-pressure) -> settle.
// The checkpoint only moves over the contiguous prefix of settled batches, and is saved
// after each one, so a crash at any moment loses nothing.
import type { SyncDefinition } from '../config/schema.js';
import type { EncodedPage } from '../mapping/encode.js';
import { EncodedEvents } from '../core/encoded-events.js';
import { pageOfRows, positionAt, rowCount, type PageReader, type ReadPage } from './reader.js';
import { textAt } from './packed-texts.js';
import type { EventResult, SendOptions } from '../pinterest/client.js';
import type { Position } from '../sources/types.js';
import { ZERO_COUNTS, type LedgerEntry, type RejectRecord, type RunCounts, type StateStore } from '../state/store.js';
import { cursorMs, openLedger } from './ledger.js';
import type { UserKey } from '../core/event-schema.js';
import { describeReasons, DUPLICATE_EVENT_ID, reasonLabel } from './preview.js';
import type { CursorKind } from '../sources/cursor.js';
import { readUntil } from './cursor.js';
import { SeenIds } from './seen-ids.js';

export interface EventSender {
  /** One result per event; `signal` aborts retries that are waiting (the run has failed). */
  send(events: EncodedEvents, signal?: AbortSignal, options?: SendOptions): Promise<EventResult[]>;
}

export interface RunProgress extends RunCounts {
  batchesSettled: number;
}

export interface RunOptions {
  sync: SyncDefinition;
  /** Mapped pages of the sync's source (read on a worker thread, for a CLI run). */
  reader: PageReader;
  sender: EventSender;
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
}

interface Batch {
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
  const startedAt = new Date();
  const batchSize = sync.destination.batch_size;
  const concurrency = sync.destination.concurrency;
  const counts: RunCounts = { ...ZERO_COUNTS };
  const rejectsByReason = new Map<string, number>();
  const countReason = (label: string) => rejectsByReason.set(label, (rejectsByReason.get(label) ?? 0) + 1);

  const state = store ?? options.readState;
  const checkpoint = options.fullRefresh ? undefined : await state?.checkpoint(sync.name);
  // Events an earlier run sent but never settled: always the first ones after the checkpoint,
  // so this run's first `priorUnsettled` events are resends (same event_id).
  const priorUnsettled = options.fullRefresh || !store ? 0 : await store.unsettledEvents(sync.name);
  const runId = options.runId ?? (store ? await store.startRun(sync.name) : undefined);
  const ledger = await openLedger(sync, state, {
    consult: !options.fullRefresh, record: store !== undefined && !options.testMode, cursorKind: options.cursorKind, checkpoint,
  });
  // Rows stamped later than now wait for a later run; event_ids seen, to refuse a second one.
  const until = readUntil(options.cursorKind, startedAt.getTime());
  const seen = new SeenIds();
  // Whether Pinterest has processed events of this sync before (any run record says so).
  const deliveredBefore = (await state?.hasProcessed(sync.name).catch(() => false)) ?? false;

  let committed: Position | null = checkpoint?.position ?? null;
  let fatal: Error | undefined;
  const stopped = () => fatal !== undefined || options.signal?.aborted === true;
  let nextSeq = 0;
  let nextToCommit = 0;
  let dispatchedEvents = 0;
  let committedEvents = 0;
  let eventsRead = 0;
  // Once the run has failed, batches still waiting to retry give up instead of waiting on.
  const halt = new AbortController();
  const settled = new Map<number, Batch>();
  const inflight = new Set<Promise<void>>();
  let commits: Promise<void> = Promise.resolve();

  // Wakes the reader when batches commit or the run stops.
  let wake: () => void = () => undefined;
  let changed = new Promise<void>((resolve) => (wake = resolve));
  const signalChange = () => {
    wake();
    changed = new Promise<void>((resolve) => (wake = resolve));
  };
  options.signal?.addEventListener('abort', () => {
    // A lost lock (an Error) fails the run at once; a signal lets batches in flight settle.
    if (options.signal!.reason instanceof Error) {
      fatal ??= options.signal!.reason;
      halt.abort();
    }
    signalChange();
  }, { once: true });

  // What a crash right now could leave sent but unsettled: this run's dispatched, uncommitted
  // events, or what is left of an earlier run's, whichever reaches further.
  const unsettledNow = (committing = 0) => {
    const settledEvents = committedEvents + committing;
    return Math.max(priorUnsettled - settledEvents, dispatchedEvents - settledEvents, 0);
  };

  // Commits settled batches in order: every settled batch in a row, with its rejects and the
  // checkpoint past it, in one transaction (batches sent together settle together).
  const commitReady = async (): Promise<void> => {
    while (settled.has(nextToCommit)) {
      const ready: Batch[] = [];
      for (let seq = nextToCommit; settled.has(seq); seq++) {
        ready.push(settled.get(seq)!);
        settled.delete(seq);
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
      const position = ledger.checkpointAfter(ready.at(-1)!.last, checkpoint?.position);
      // The run's record gets its counts as of this commit, in the commit (a killed run shows them).
      const refused = rejects.reduce((n, r) => n + (r.stage === 'pinterest' ? 1 : 0), 0);
      const recorded = { ...counts, processed: counts.processed + processed, eventsSent: counts.eventsSent + events, rejectedPinterest: counts.rejectedPinterest + refused };
      // Counted as settled only once the commit holds: if it fails, these events stay unsettled.
      if (store && runId !== undefined) await store.commitBatch(sync.name, runId, rejects, position, unsettledNow(events), delivered, recorded);
      committedEvents += events;
      // Counted once durable, so the summary never claims more than the state holds.
      counts.processed += processed;
      counts.eventsSent += events;
      for (const r of rejects) if (r.stage === 'pinterest') {
        counts.rejectedPinterest++;
        countReason(`pinterest: ${r.reason}`);
      }
      committed = position;
      nextToCommit += ready.length;
      signalChange();
      options.onProgress?.({ ...counts, batchesSettled: nextToCommit });
    }
  };

  const dispatch = async (batch: Batch): Promise<void> => {
    // Back-pressure: at most `concurrency` batches between the checkpoint and the reader,
    // whether they are still sending or waiting for an earlier batch to commit.
    // Events an earlier run left unsettled go one batch at a time: if the first fails again, the
    // batches behind it are not sent (and delivered) once more by every failing run.
    const allowed = () => (dispatchedEvents < priorUnsettled ? 1 : concurrency);
    while (batch.seq - nextToCommit >= allowed() && !stopped()) await changed;
    if (stopped()) return;
    dispatchedEvents += batch.events.length;
    // Durable before the request leaves, so a crash from here on is counted as a resend.
    if (store && batch.events.length > 0) await store.saveUnsettled(sync.name, unsettledNow());
    const task = (async () => {
      try {
        // Until Pinterest has taken an event from this sync, a batch refused whole and alike is the request's fault.
        const failFast = !deliveredBefore && counts.processed === 0;
        batch.results = batch.events.length > 0 ? await sender.send(batch.events, halt.signal, { failFast }) : [];
        settled.set(batch.seq, batch);
        commits = commits.then(commitReady);
        await commits;
      } catch (error) {
        fatal ??= error as Error;
        halt.abort();
        signalChange();
      }
    })();
    inflight.add(task);
    void task.finally(() => inflight.delete(task));
  };

  let batch: Batch | undefined;
  let dropped: EncodedPage['dropped'] = [];
  const newBatch = (): Batch => ({ seq: nextSeq++, events: new EncodedEvents(), localRejects: [], skipped: 0, ledger: [], last: { cursor: null, key: '' } });

  try {
    // Pages of one batch: fewer rows alive at once on the reading thread, so cheaper scavenges.
    reading: for await (const page of reader.pages({ after: ledger.start, pageSize: batchSize, until })) {
      dropped = page.dropped;
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
        if (stopped()) break reading;
        counts.rowsRead++;
        batch ??= newBatch();
        // A row rejected locally has no event bytes.
        const hasEvent = page.offsets[i + 1] !== page.offsets[i];
        const digest = digests[i];
        const settledBefore = digest !== undefined && known.has(digest);
        // Rows without an event are, in row order, either skipped on purpose or rejected.
        const skipped = !hasEvent && page.skipped[nextSkipped] === i;
        if (skipped) nextSkipped++;
        const reasons = hasEvent || skipped ? undefined : page.rejects[nextReject++]![1];
        // An event_id this run has seen: Pinterest would keep one of the two events.
        const firstOfId = !hasEvent || seen.add(ids.text, i > 0 ? ids.ends[i - 1]! : 0, ids.ends[i]!);
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
          if (++eventsRead <= priorUnsettled) counts.resent++;
        } else {
          counts.rejectedLocal++;
          if (reasons) for (const reason of reasons) countReason(reasonLabel(reason));
          else countReason(reasonLabel(DUPLICATE_EVENT_ID));
          batch.localRejects.push({
            primaryKey: textAt(page.keys, i)!, eventId: reasons ? null : textAt(ids, i), stage: 'local', reason: describeReasons(reasons ?? [DUPLICATE_EVENT_ID]),
          });
        }
        // Rows that send nothing still close a batch, so their checkpoint and ledger commit in bounded steps.
        if (batch.events.length >= batchSize || batch.localRejects.length + batch.skipped >= batchSize) {
          batch.last = positionAt(page, i);
          await dispatch(batch);
          batch = undefined;
        }
      }
      // A batch that goes on into the next page ends here for now.
      if (batch && rows > 0) {
        batch.last = positionAt(page, rows - 1);
        batch.events.compact(page, (picked) => pageOfRows(page, picked));
      }
    }
    // An interrupted run leaves its partial batch unsent: the checkpoint is before it.
    if (batch && !stopped()) {
      await dispatch(batch);
    }
  } catch (error) {
    fatal ??= error as Error;
  }
  await Promise.allSettled([...inflight]);
  await commits.catch((error: Error) => {
    fatal ??= error;
  });
  const reason: unknown = options.signal?.aborted ? options.signal.reason : undefined;
  if (reason instanceof Error) fatal ??= reason;
  const interrupted = !fatal && options.signal?.aborted === true;

  if (store && runId !== undefined) {
    try {
      // What was dispatched and never committed (after a failure) is resent by the next run.
      await store.saveUnsettled(sync.name, unsettledNow());
      await ledger.finish(committed);
      // Without a cursor the checkpoint only serves to resume a failed run; a finished run
      // leaves none, so the next run reads every row again.
      if (!fatal && !interrupted && sync.source.cursor === undefined) {
        await store.saveCheckpoint(sync.name, null);
        committed = null;
      }
    } catch (error) {
      // The state failed: so did the run, which still reports what it did.
      fatal ??= error as Error;
    }
    const outcome = fatal ? 'failed' : interrupted ? 'interrupted' : rejectRate(counts) > sync.options.max_reject_rate ? 'rejects_exceeded' : 'succeeded';
    // Best effort: a state that cannot take the record must not hide the summary.
    await store.finishRun(runId, outcome, counts, fatal?.message).catch(() => undefined);
  }
  return {
    ...counts, runId, rejectsByReason, droppedIdentifiers: new Map(dropped), startedAt,
    durationMs: Date.now() - startedAt.getTime(), checkpoint: committed, ...(fatal ? { error: fatal } : {}), ...(interrupted ? { interrupted } : {}),
  };
}
