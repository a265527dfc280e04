// The reading thread: opens the sync's source, compiles its mapper, and sends mapped pages to
// the main thread as long as it has credit (pages the main thread is ready to take).
import { parentPort } from 'node:worker_threads';
import { compileMapper } from '../mapping/compile.js';
import { loadPhoneNumbers, warmUpNormalizers } from '../mapping/normalize.js';
import { createSource } from '../sources/index.js';
import type { Source } from '../sources/types.js';
import { readPages, transferablesOfPage, type PageRequest } from './reader.js';
import type { FromReader, ReaderSetup, ToReader } from './reader-thread.js';

const port = parentPort!;
// The thread loads while the CLI's main thread does, and then waits for its start: the time
// to load what mapping phone numbers needs, and to build each normalizer's tables, instead of
// in the first page.
loadPhoneNumbers();
warmUpNormalizers();
let source: Source | undefined;
let credit = 0;
let closing = false;
let wake: () => void = () => undefined;
let reading: Promise<void> = Promise.resolve();

const send = (message: FromReader) => {
  if (message.type === 'page') port.postMessage(message, transferablesOfPage(message.page));
  else port.postMessage(message);
};

const sendError = (error: unknown) => {
  const { name = 'Error', message = String(error) } = (error ?? {}) as Partial<Error>;
  if (!closing) send({ type: 'error', name, message });
};

async function read(setup: ReaderSetup, request: PageRequest): Promise<void> {
  try {
    source = await createSource(setup, setup.columnTypes);
    const { mapper, problems } = compileMapper(setup.mapping, { available: setup.columnTypes.map(([name]) => name) });
    if (!mapper) throw new Error(`the mapping does not compile: ${problems.map((p) => p.message).join('; ')}`);
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
  if (message.type === 'start') {
    credit = message.credit;
    reading = read(message.setup, message.request);
  } else if (message.type === 'more') {
    credit++;
    wake();
  } else {
    // The page in progress finishes first: a native driver (DuckDB) must not be closed in the
    // middle of a fetch. Then the source closes, and the thread ends by itself.
    closing = true;
    wake();
    void reading
      .then(() => source?.close())
      // A failed read was reported when it failed, and a failed close changes nothing now: the thread ends either way.
      .catch(() => undefined)
      .finally(() => {
        send({ type: 'closed' });
        port.close();
      });
  }
});
