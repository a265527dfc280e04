// Entry point of the built CLI (bin/pinsync.js imports this).
import { main } from './main.js';

// A closed pipe (`pinsync preview … | head`) ends output quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

process.exitCode = await main(process.argv);
