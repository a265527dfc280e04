// Entry point of the built CLI (bin/pinsync.js imports this).
import { startReaderEarly } from '../engine/reader-thread.js';
import { applyPatches } from '../patches/index.js';
import { commandOf } from './command-word.js';
import { ExitCode } from '../core/types.js';

// A run's reading thread is slow to load, and so are the CLI's own modules: it starts first, and
// they load together, main.js imported after it (docs/adr/0004-cli-bundle.md).
if (commandOf(process.argv.slice(2)) === 'run') startReaderEarly();
applyPatches();
const { main } = await import('./main.js');

// A closed pipe (`pinsync preview … | head`) ends output quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(ExitCode.success);
  throw error;
});

process.exitCode = await main(process.argv);
