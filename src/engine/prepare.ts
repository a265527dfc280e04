// Binds a validated sync to its source: checks mapped columns exist and the cursor is one
// that can be checkpointed, and compiles the mapper.
import { loadSyncFile, type LoadedSync } from '../config/load.js';
import type { SyncDefinition } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { compileMapper, type Mapper } from '../mapping/compile.js';
import { createSource, type Source } from '../sources/index.js';
import type { CursorKind } from '../sources/cursor.js';
import { checkCursor } from './cursor.js';

export interface Compiled {
  mapper: Mapper;
  /** The cursor column's kind; undefined without a cursor. */
  cursorKind?: CursorKind;
}

export async function compileForSource(
  sync: SyncDefinition,
  loaded: Pick<LoadedSync, 'problemAt'>,
  source: Source,
  now?: () => number,
): Promise<Compiled> {
  const types = await source.columnTypes();
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
}

/** Loads a sync file, opens its source and compiles its mapper; closes the source if any step fails. */
export async function openSync(file: string, options: { requireDestination: boolean }): Promise<OpenedSync> {
  const loaded = await loadSyncFile(file, options);
  if (!loaded.sync) throw new ConfigError(loaded.problems);
  const source = await createSource(loaded.sync);
  try {
    return { sync: loaded.sync, source, ...(await compileForSource(loaded.sync, loaded, source)) };
  } catch (error) {
    await source.close();
    throw error;
  }
}
