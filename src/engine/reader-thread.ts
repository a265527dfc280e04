// Reading, mapping, hashing and serializing are most of a run's CPU. They run on a worker
// thread with its own connection to the source, a few pages ahead of the main thread, which
// only batches, sends and checkpoints. Event bytes are transferred between threads, not copied.
import { Worker } from 'node:worker_threads';
import type { SyncDefinition } from '../config/schema.js';
import { AuthError, ConfigError, RetriesExhaustedError, SourceError, StateError } from '../errors.js';
import type { PageReader, PageRequest, ReadPage } from './reader.js';

export interface ReaderSetup {
  sync: SyncDefinition;
  /** The source's columns, as the main thread saw them: the mapper lays rows out the same way. */
  available: readonly string[];
}

export type ToReader = { type: 'start'; request: PageRequest; credit: number } | { type: 'more' } | { type: 'close' };
export type FromReader =
  | { type: 'page'; page: ReadPage }
  | { type: 'end' }
  | { type: 'error'; name: string; message: string }
  | { type: 'closed' };

// Pages read ahead of the sender: enough to keep both threads busy, few enough to keep memory flat.
const PAGES_AHEAD = 4;
// Mapping allocates many short-lived strings: a young generation larger than V8's default
// means far fewer scavenges. The old generation is bounded, so memory stays flat.
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 96, maxOldGenerationSizeMb: 512 };
const CLOSE_WAIT_MS = 10_000;

const ERROR_CLASSES: Record<string, new (message: string) => Error> = {
  SourceError, AuthError, RetriesExhaustedError, StateError,
};

function errorFrom(name: string, message: string): Error {
  if (name === 'ConfigError') return new ConfigError([], message);
  const ErrorClass = ERROR_CLASSES[name];
  return ErrorClass ? new ErrorClass(message) : new Error(message);
}

export function threadReader(setup: ReaderSetup): PageReader {
  const worker = new Worker(new URL('./reader-worker.js', import.meta.url), { workerData: setup, resourceLimits: WORKER_LIMITS });
  const inbox: FromReader[] = [];
  let arrived: () => void = () => undefined;
  let failure: Error | undefined;
  let exited = false;
  const deliver = (message: FromReader) => {
    inbox.push(message);
    arrived();
  };
  worker.on('message', deliver);
  worker.on('error', (error) => {
    failure ??= new Error(`the reading thread failed: ${error.message}`);
    arrived();
  });
  worker.on('exit', () => {
    exited = true;
    failure ??= new Error('the reading thread stopped unexpectedly');
    arrived();
  });
  const next = async (): Promise<FromReader> => {
    while (inbox.length === 0) {
      if (failure) throw failure;
      await new Promise<void>((resolve) => (arrived = resolve));
    }
    return inbox.shift()!;
  };

  let closing: Promise<void> | undefined;
  return {
    async *pages(request) {
      worker.postMessage({ type: 'start', request, credit: PAGES_AHEAD } satisfies ToReader);
      for (;;) {
        const message = await next();
        if (message.type === 'end') return;
        if (message.type === 'error') throw errorFrom(message.name, message.message);
        if (message.type !== 'page') continue;
        worker.postMessage({ type: 'more' } satisfies ToReader);
        yield message.page;
      }
    },
    close() {
      closing ??= (async () => {
        if (exited) return;
        // The worker closes its source (its connection) before it goes; if it cannot, it is stopped.
        worker.postMessage({ type: 'close' } satisfies ToReader);
        const closed = (async () => {
          for (;;) if ((await next()).type === 'closed') return;
        })().catch(() => undefined);
        await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref())]);
        await worker.terminate();
      })();
      return closing;
    },
  };
}
