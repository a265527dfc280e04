// The reading thread: opens the sync's pipeline (source and mapper), and sends mapped pages to
// the main thread as long as it has credit (pages the main thread is ready to take).
import { parentPort } from 'node:worker_threads';
import { loadPhoneNumbers, warmUpNormalizers } from '../mapping/normalize.js';
import { applyPatches } from '../patches/index.js';
import { localPipeline } from './pipeline.js';
import { transferablesOfPage, type PageRequest } from './reader.js';
import type { FromReader, ToReader } from './reader-thread.js';
import { toThreadError } from './thread-errors.js';

const port = parentPort!;
// The thread loads while the CLI's main thread does, and then waits for its start: the time
// to load what mapping phone numbers needs, and to build each normalizer's tables, instead of
// in the first page.
applyPatches();
loadPhoneNumbers();
warmUpNormalizers();
const pipeline = localPipeline();
let credit = 0;
let closing = false;
let wake: () => void = () => undefined;
// What the thread is doing (opening, then reading): closing waits for it.
let busy: Promise<void> = Promise.resolve();

const send = (message: FromReader) => {
  if (message.type === 'page') port.postMessage(message, transferablesOfPage(message.page));
  else port.postMessage(message);
};

const sendError = (error: unknown) => {
  if (!closing) send({ type: 'error', error: toThreadError(error) });
};

async function read(request: PageRequest): Promise<void> {
  try {
    for await (const page of pipeline.pages(request)) {
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
    busy = pipeline.open(message.setup, message.options).then((opening) => send({ type: 'opened', opening }), sendError);
  } else if (message.type === 'start') {
    credit = message.credit;
    busy = read(message.request);
  } else if (message.type === 'more') {
    credit++;
    wake();
  } else {
    // The page in progress finishes first: a native driver (DuckDB) must not be closed in the
    // middle of a fetch. Then the source closes, and the thread ends by itself.
    closing = true;
    wake();
    void busy
      .then(() => pipeline.close())
      // A source that fails to close has nothing left to read: the thread ends all the same.
      .catch(() => undefined)
      .finally(() => {
        send({ type: 'closed' });
        port.close();
      });
  }
});
