#!/usr/bin/env node
// With PINSYNC_DEBUG, stack traces name the source files instead of the bundle's chunks.
if (process.env.PINSYNC_DEBUG) process.setSourceMapsEnabled(true);
await import('../dist/bundle/index.js');
