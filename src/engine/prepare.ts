// Binds a validated sync to its source: checks mapped columns exist, compiles the mapper.
import { loadSyncFile, type LoadedSync } from '../config/load.js';
import type { SyncDefinition } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { compileMapper, type Mapper } from '../mapping/compile.js';
import { createSource, type Source } from '../sources/index.js';

export async function compileForSource(
  sync: SyncDefinition,
  loaded: Pick<LoadedSync, 'problemAt'>,
  source: Source,
  now?: () => number,
): Promise<Mapper> {
  const available = await source.columns();
  const { mapper, problems } = compileMapper(sync, { available, now });
  if (!mapper) {
    throw new ConfigError(problems.map((p) => loaded.problemAt(p.path, p.message)).sort((a, b) => a.line - b.line || a.col - b.col));
  }
  return mapper;
}

export interface OpenedSync {
  sync: SyncDefinition;
  source: Source;
  mapper: Mapper;
}

/** Loads a sync file, opens its source and compiles its mapper; closes the source if any step fails. */
export async function openSync(file: string, options: { requireDestination: boolean }): Promise<OpenedSync> {
  const loaded = await loadSyncFile(file, options);
  if (!loaded.sync) throw new ConfigError(loaded.problems);
  const source = await createSource(loaded.sync);
  try {
    return { sync: loaded.sync, source, mapper: await compileForSource(loaded.sync, loaded, source) };
  } catch (error) {
    await source.close();
    throw error;
  }
}
