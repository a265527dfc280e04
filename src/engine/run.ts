// A run: read -> map -> batch -> send (limited concurrency, back-pressure) -> settle.
// The checkpoint only moves over the contiguous prefix of settled batches, and is saved
// after each one, so a crash at any moment loses nothing.
import type { SyncDefinition } from '../config/schema.js';
import type { Event, Mapper } from '../mapping/compile.js';
import type { EventResult } from '../pinterest/client.js';
import type { Position, Source } from '../sources/types.js';
import type { RejectRecord, RunCounts, StateStore } from '../state/store.js';
import type { UserKey } from '../pinterest/event-schema.js';
import { describeReasons, reasonLabel } from './preview.js';

export interface EventSender {
  send(events: readonly Event[]): Promise<EventResult[]>;
}

export interface RunProgress extends RunCounts {
  batchesSettled: number;
}

export interface RunOptions {
  sync: SyncDefinition;
  source: Source;
  mapper: Mapper;
  sender: EventSender;
  /** Where checkpoints, runs and rejects go; absent for a remote test, which keeps no state. */
  store?: StateStore;
  /** Read from the start, ignoring the checkpoint. */
  fullRefresh?: boolean;
  /** Without a store (a remote test): where to start reading. */
  startAfter?: Position;
  onProgress?: (progress: RunProgress) => void;
  /**
   * Stops the run early: reading stops, batches in flight settle and are checkpointed.
   * An Error as the abort reason fails the run (a lost lock); anything else interrupts it.
   */
  signal?: AbortSignal;
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
  events: Event[];
  /** Primary key of each event, same index. */
  keys: string[];
  localRejects: RejectRecord[];
  /** Position of the batch's last row (sent or rejected). */
  last: Position;
  results?: EventResult[];
}

const samePosition = (a: Position, b: Position) => a.key === b.key && a.cursor === b.cursor;

export async function runSync(options: RunOptions): Promise<RunSummary> {
  const { sync, source, mapper, sender, store } = options;
  const startedAt = new Date();
  const batchSize = sync.destination.batch_size;
  const concurrency = sync.destination.concurrency;
  const counts: RunCounts = { rowsRead: 0, eventsSent: 0, processed: 0, rejectedLocal: 0, rejectedPinterest: 0, resent: 0 };
  const rejectsByReason = new Map<string, number>();
  const countReason = (label: string) => rejectsByReason.set(label, (rejectsByReason.get(label) ?? 0) + 1);

  const checkpoint = options.fullRefresh ? undefined
    : store ? await store.checkpoint(sync.name)
      : options.startAfter && { position: options.startAfter, updatedAt: startedAt };
  // Batches an interrupted run had sent beyond its checkpoint are sent again (same event_id).
  const unsettled = options.fullRefresh || !store ? undefined : await store.dispatched(sync.name);
  let inResendWindow = unsettled !== undefined && !(checkpoint && samePosition(checkpoint.position, unsettled.position));
  const runId = store ? await store.startRun(sync.name) : undefined;

  let committed: Position | null = checkpoint?.position ?? null;
  let fatal: Error | undefined;
  const stopped = () => fatal !== undefined || options.signal?.aborted === true;
  let nextSeq = 0;
  let nextToCommit = 0;
  let batchesSettled = 0;
  const settled = new Map<number, Batch>();
  const inflight = new Set<Promise<void>>();
  let commits: Promise<void> = Promise.resolve();

  // Commits settled batches in order: rejects first, then the checkpoint past them.
  const commitReady = async (): Promise<void> => {
    while (settled.has(nextToCommit)) {
      const batch = settled.get(nextToCommit)!;
      settled.delete(nextToCommit);
      const rejects = [...batch.localRejects];
      batch.results!.forEach((result, i) => {
        if (result.status === 'processed') counts.processed++;
        else {
          counts.rejectedPinterest++;
          countReason(`pinterest: ${result.error}`);
          rejects.push({ primaryKey: batch.keys[i]!, eventId: String(batch.events[i]!.event_id), stage: 'pinterest', reason: result.error });
        }
      });
      counts.eventsSent += batch.events.length;
      if (store && runId !== undefined) {
        await store.addRejects(runId, sync.name, rejects);
        await store.saveCheckpoint(sync.name, batch.last);
      }
      committed = batch.last;
      nextToCommit++;
      batchesSettled++;
      options.onProgress?.({ ...counts, batchesSettled });
    }
  };

  const dispatch = async (batch: Batch): Promise<void> => {
    // Back-pressure: reading waits while `concurrency` batches are in flight.
    while (inflight.size >= concurrency) await Promise.race(inflight);
    if (stopped()) return;
    if (store && runId !== undefined && batch.events.length > 0) await store.saveDispatched(sync.name, runId, batch.last);
    const task = (async () => {
      try {
        batch.results = batch.events.length > 0 ? await sender.send(batch.events) : [];
        settled.set(batch.seq, batch);
        commits = commits.then(commitReady);
        await commits;
      } catch (error) {
        fatal ??= error as Error;
      }
    })();
    inflight.add(task);
    void task.finally(() => inflight.delete(task));
  };

  let batch: Batch | undefined;
  const newBatch = (): Batch => ({ seq: nextSeq++, events: [], keys: [], localRejects: [], last: { cursor: null, key: '' } });

  try {
    reading: for await (const page of source.read({ after: checkpoint?.position, columns: mapper.columns, pageSize: batchSize * 2 })) {
      for (const row of page) {
        if (stopped()) break reading;
        counts.rowsRead++;
        batch ??= newBatch();
        const position = source.positionOf(row);
        const key = mapper.keyOf(row);
        const outcome = mapper.map(row);
        if (outcome.event) {
          batch.events.push(outcome.event);
          batch.keys.push(key);
          if (inResendWindow) counts.resent++;
        } else {
          counts.rejectedLocal++;
          for (const reason of outcome.reasons) countReason(reasonLabel(reason));
          batch.localRejects.push({ primaryKey: key, eventId: null, stage: 'local', reason: describeReasons(outcome.reasons) });
        }
        if (inResendWindow && samePosition(position, unsettled!.position)) inResendWindow = false;
        batch.last = position;
        if (batch.events.length >= batchSize || batch.localRejects.length >= batchSize) {
          await dispatch(batch);
          batch = undefined;
        }
      }
    }
    // An interrupted run leaves its partial batch unsent: the checkpoint is before it.
    if (batch && !stopped()) await dispatch(batch);
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
    // Everything dispatched has settled, unless the run failed: then the next run resends it.
    if (!fatal) await store.saveDispatched(sync.name, runId, null);
    // Without a cursor the checkpoint only serves to resume a failed run; a finished run
    // leaves none, so the next run reads every row again.
    if (!fatal && !interrupted && sync.source.cursor === undefined) {
      await store.saveCheckpoint(sync.name, null);
      committed = null;
    }
    const rejected = counts.rejectedLocal + counts.rejectedPinterest;
    const outcome = fatal ? 'failed' : interrupted ? 'interrupted'
      : counts.rowsRead > 0 && rejected / counts.rowsRead > sync.options.max_reject_rate ? 'rejects_exceeded' : 'succeeded';
    await store.finishRun(runId, outcome, counts, fatal?.message);
  }
  return {
    ...counts, runId, rejectsByReason, droppedIdentifiers: mapper.droppedIdentifiers, startedAt,
    durationMs: Date.now() - startedAt.getTime(), checkpoint: committed, ...(fatal ? { error: fatal } : {}), ...(interrupted ? { interrupted } : {}),
  };
}
