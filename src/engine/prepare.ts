// Binds a validated sync to its source: checks mapped columns exist and the cursor is one
// that can be checkpointed, and compiles the mapper.
import { formatProblem, loadSyncFile, type LoadedSync } from '../config/load.js';
import type { SyncDefinition } from '../config/schema.js';
import { ConfigError, RefusedQueryError } from '../core/errors.js';
import { compileMapper, type Mapper } from '../mapping/compile.js';
import { createSource, type Source } from '../sources/index.js';
import type { CursorKind } from '../sources/cursor.js';
import { checkCursor } from './cursor.js';

export interface Compiled {
  mapper: Mapper;
  /** The cursor column's kind; undefined without a cursor. */
  cursorKind?: CursorKind;
}

/**
 * A source's refusal of its query (several statements, a write) is a problem in the sync file:
 * placed at source.query, file:line:col, exit 2. Any other error is returned as it is.
 */
export function locateRefusal(error: unknown, loaded: Pick<LoadedSync, 'problemAt'>): unknown {
  if (!(error instanceof RefusedQueryError)) return error;
  const problem = loaded.problemAt(['source', 'query'], error.message);
  return new ConfigError([problem], formatProblem(problem));
}

export async function compileForSource(
  sync: SyncDefinition,
  loaded: Pick<LoadedSync, 'problemAt'>,
  source: Source,
  now?: () => number,
): Promise<Compiled> {
  let types: Map<string, string>;
  try {
    // The first query a source runs checks the sync's own (describe): most refusals come from here.
    types = await source.columnTypes();
  } catch (error) {
    throw locateRefusal(error, loaded);
  }
  const { mapper, problems } = compileMapper(sync, { available: [...types.keys()], now });
  const cursor = checkCursor(sync, types);
  const all = [...problems, ...cursor.problems];
  if (!mapper || all.length > 0) {
    throw new ConfigError(all.map((p) => loaded.problemAt(p.path, p.message)).sort((a, b) => a.line - b.line || a.col - b.col));
  }
  return { mapper, ...(cursor.kind ? { cursorKind: cursor.kind } : {}) };
}

export interface OpenedSync extends Compiled {
  sync: SyncDefinition;
  source: Source;
  /** Where the sync file's keys are, to place a source's later refusal (locateRefusal). */
  loaded: Pick<LoadedSync, 'problemAt'>;
}

/** Loads a sync file, opens its source and compiles its mapper; closes the source if any step fails. */
export async function openSync(file: string, options: { requireDestination: boolean }): Promise<OpenedSync> {
  const loaded = await loadSyncFile(file, options);
  if (!loaded.sync) throw new ConfigError(loaded.problems);
  const source = await createSource(loaded.sync);
  try {
    return { sync: loaded.sync, source, loaded, ...(await compileForSource(loaded.sync, loaded, source)) };
  } catch (error) {
    await source.close();
    throw error;
  }
}
