// Every change pinsync makes to another package's internals, applied by one call from the
// entry points whose threads need them (the CLI, the reading thread), never on import.
// Each has a guard that leaves the package as it is when its internals change, a test against
// the unpatched package, a pinned version range in package.json and an ADR in docs/adr/.
import { cacheLibphonenumberPatterns } from './libphonenumber-patterns.js';
import { installDataRowDecoder } from './pg-data-rows.js';

export interface AppliedPatches {
  /** pg-protocol's DataRow messages decoded by pinsync (docs/adr/0010-pg-data-row-decoder.md). */
  pgDataRows: boolean;
  /** libphonenumber-js compiles each metadata pattern once (docs/adr/0011-libphonenumber-compiled-patterns.md). */
  libphonenumberPatterns: boolean;
}

/** Applies every patch (again is harmless); one that does not fit its package is left out. */
export function applyPatches(): AppliedPatches {
  return { pgDataRows: installDataRowDecoder(), libphonenumberPatterns: cacheLibphonenumberPatterns() };
}
