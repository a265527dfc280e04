// The reading thread: opens the sync's source and describes it, compiles its mapper, and
// then sends mapped pages to the main thread as long as it has credit (pages the main
// thread is ready to take).
import { parentPort } from 'node:worker_threads';
import { compileMapper, type Mapper } from '../mapping/compile.js';
import { loadPhoneNumbers } from '../mapping/normalize.js';
import { createSource } from '../sources/index.js';
import type { Source } from '../sources/types.js';
import { readPages, transferablesOfPage, type PageRequest } from './reader.js';
import type { FromReader, ReaderSetup, ToReader } from './reader-thread.js';

const port = parentPort!;
// The thread loads while the CLI's main thread does, and then waits for its start: the time
// to load what mapping phone numbers needs, instead of at the first number.
loadPhoneNumbers();
let source: Source | undefined;
let mapper: Mapper | undefined;
let credit = 0;
let closing = false;
let wake: () => void = () => undefined;
let work: Promise<void> = Promise.resolve();

const send = (message: FromReader) => {
  if (message.type === 'page') port.postMessage(message, transferablesOfPage(message.page));
  else port.postMessage(message);
};

const sendError = (error: unknown) => {
  const { name = 'Error', message = String(error) } = (error ?? {}) as Partial<Error>;
  if (!closing) send({ type: 'error', name, message });
};

async function open(setup: ReaderSetup): Promise<void> {
  try {
    source = await createSource(setup);
    const columnTypes = [...await source.columnTypes()];
    const unreadableRows = await source.unreadableRows();
    // A mapping that does not compile is reported by the main thread, which then never starts a read.
    mapper = compileMapper(setup.mapping, { available: columnTypes.map(([name]) => name) }).mapper;
    send({ type: 'opened', source: { columnTypes, unreadableRows } });
  } catch (error) {
    sendError(error);
  }
}

async function read(request: PageRequest): Promise<void> {
  try {
    if (!source || !mapper) throw new Error('the reading thread was started without an open source and a compiled mapping');
    for await (const page of readPages(source, mapper, request)) {
      while (credit === 0 && !closing) await new Promise<void>((resolve) => (wake = resolve));
      if (closing) return;
      credit--;
      send({ type: 'page', page });
    }
    send({ type: 'end' });
  } catch (error) {
    sendError(error);
  }
}

port.on('message', (message: ToReader) => {
  if (message.type === 'open') {
    work = open(message.setup);
  } else if (message.type === 'start') {
    credit = message.credit;
    work = read(message.request);
  } else if (message.type === 'more') {
    credit++;
    wake();
  } else {
    // The page in progress finishes first: a native driver (DuckDB) must not be closed in the
    // middle of a fetch. Then the source closes, and the thread ends by itself.
    closing = true;
    wake();
    void work
      .then(() => source?.close())
      .catch(() => undefined)
      .finally(() => {
        send({ type: 'closed' });
        port.close();
      });
  }
});
