// The reading thread: opens the sync's source, compiles its mapper, and sends mapped pages to
// the main thread as long as it has credit (pages the main thread is ready to take).
import { parentPort, workerData } from 'node:worker_threads';
import { compileMapper, mappingDefinition } from '../mapping/compile.js';
import { createSource } from '../sources/index.js';
import { readPages, type PageRequest } from './reader.js';
import type { FromReader, ReaderSetup, ToReader } from './reader-thread.js';

const setup = workerData as ReaderSetup;
const port = parentPort!;
const source = await createSource(setup.sync);
let credit = 0;
let closing = false;
let wake: () => void = () => undefined;

const send = (message: FromReader) => {
  if (message.type === 'page') port.postMessage(message, [message.page.json.buffer as ArrayBuffer, message.page.offsets.buffer as ArrayBuffer]);
  else port.postMessage(message);
};

async function read(request: PageRequest): Promise<void> {
  try {
    const { mapper, problems } = compileMapper(mappingDefinition(setup.sync), { available: setup.available });
    if (!mapper) throw new Error(`the mapping does not compile: ${problems.map((p) => p.message).join('; ')}`);
    for await (const page of readPages(source, mapper, request)) {
      while (credit === 0 && !closing) await new Promise<void>((resolve) => (wake = resolve));
      if (closing) return;
      credit--;
      send({ type: 'page', page });
    }
    send({ type: 'end' });
  } catch (error) {
    const { name, message } = error as Error;
    send({ type: 'error', name: name ?? 'Error', message: message ?? String(error) });
  }
}

let reading: Promise<void> = Promise.resolve();
port.on('message', (message: ToReader) => {
  if (message.type === 'start') {
    credit = message.credit;
    reading = read(message.request);
  } else if (message.type === 'more') {
    credit++;
    wake();
  } else {
    closing = true;
    wake();
    void reading.finally(async () => {
      await source.close();
      send({ type: 'closed' });
      port.close();
    });
  }
});
