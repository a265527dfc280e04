// Reading, mapping, hashing and serializing are most of a run's CPU. They run on a worker
// thread with its own connection to the source, a few pages ahead of the main thread, which
// only batches, sends and checkpoints. Event bytes are transferred between threads, not copied.
import { setImmediate } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { SourceError } from '../core/errors.js';
import type { OpenOptions, Opening, Pipeline, PipelineSetup } from './pipeline.js';
import type { PageRequest, ReadPage } from './reader.js';
import { fromThreadError, type ThreadError } from './thread-errors.js';

export type ToReader =
  | { type: 'open'; setup: PipelineSetup; options: OpenOptions }
  | { type: 'start'; request: PageRequest; credit: number }
  | { type: 'more' }
  | { type: 'close' };
export type FromReader =
  | { type: 'opened'; opening: Opening }
  | { type: 'page'; page: ReadPage }
  | { type: 'end' }
  | { type: 'error'; error: ThreadError }
  | { type: 'closed' };

// Pages read ahead of the sender: enough to keep both threads busy, few enough to keep memory flat.
const PAGES_AHEAD = 4;
// A larger young generation for mapping's short-lived strings, a bounded old one so --parallel
// runs cannot each take gigabytes (docs/adr/0008-pages-and-heap.md).
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 32, maxOldGenerationSizeMb: 256 };
// The thread ends by itself once its source is closed. Stopping it is the last resort: a
// native driver (DuckDB) stopped in the middle of a fetch aborts the whole process.
const EXIT_WAIT_MS = 10_000;

function threadFailure(error: Error & { code?: string }): Error {
  if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return new SourceError('the reading thread ran out of memory: rows are very wide; lower destination.batch_size (a page holds that many rows), or select fewer or narrower columns');
  }
  return new Error(`the reading thread failed: ${error.message}`);
}

const newWorker = () => new Worker(new URL('./reader-worker.js', import.meta.url), { resourceLimits: WORKER_LIMITS });

let early: { worker: Worker; gone: boolean } | undefined;

/**
 * Starts a reading thread before the CLI's own modules load, so that the two load at the same
 * time; the next threadPipeline() takes it over. Until then it keeps no process alive.
 */
export function startReaderEarly(): void {
  if (early) return;
  const entry = { worker: newWorker(), gone: false };
  entry.worker.unref();
  // A thread that failed to start is replaced, not taken over.
  entry.worker.once('error', () => (entry.gone = true)).once('exit', () => (entry.gone = true));
  early = entry;
}

function takeWorker(): Worker {
  const entry = early;
  early = undefined;
  if (!entry || entry.gone) return newWorker();
  entry.worker.ref();
  return entry.worker;
}

/**
 * The pipeline on a reading thread, started at once (or the one started early taken over), so
 * that it loads while the main thread reads the sync file and takes the lock; the thread opens
 * the source and compiles the mapper when asked to open, then reads.
 */
export function threadPipeline(): Pipeline {
  const worker = takeWorker();
  let opened = false;
  const inbox: FromReader[] = [];
  const waiters = new Set<() => void>();
  const wakeAll = () => {
    for (const wake of waiters) wake();
    waiters.clear();
  };
  let failure: Error | undefined;
  let exited = false;
  worker.on('message', (message: FromReader) => {
    inbox.push(message);
    wakeAll();
  });
  worker.on('error', (error) => {
    failure ??= threadFailure(error);
    wakeAll();
  });
  worker.on('exit', () => {
    exited = true;
    failure ??= new Error('the reading thread stopped unexpectedly');
    wakeAll();
  });
  const next = async (): Promise<FromReader> => {
    while (inbox.length === 0) {
      if (failure) throw failure;
      await new Promise<void>((resolve) => waiters.add(resolve));
    }
    return inbox.shift()!;
  };

  let closing: Promise<void> | undefined;
  return {
    async open(setup, options) {
      worker.postMessage({ type: 'open', setup, options } satisfies ToReader);
      const message = await next();
      if (message.type === 'error') throw fromThreadError(message.error);
      if (message.type !== 'opened') throw new Error(`the reading thread answered ${message.type} to open`);
      opened = true;
      return message.opening;
    },
    async *pages(request) {
      if (!opened) throw new Error('the reading thread was not opened');
      worker.postMessage({ type: 'start', request, credit: PAGES_AHEAD } satisfies ToReader);
      for (;;) {
        const message = await next();
        if (message.type === 'end') return;
        if (message.type === 'error') throw fromThreadError(message.error);
        if (message.type !== 'page') continue;
        worker.postMessage({ type: 'more' } satisfies ToReader);
        // Pages arrive as messages, which Node delivers in long runs without returning to the
        // event loop: a run of rows that send nothing (all rejected) would not see SIGTERM.
        await setImmediate();
        yield message.page;
      }
    },
    close() {
      closing ??= (async () => {
        if (exited) return;
        const gone = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        worker.postMessage({ type: 'close' } satisfies ToReader);
        const waited = await Promise.race([gone.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), EXIT_WAIT_MS).unref())]);
        if (!waited) await worker.terminate();
      })();
      return closing;
    },
  };
}
