// Binds a validated sync to its source: checks mapped columns exist, compiles the mapper.
import type { LoadedSync } from '../config/load.js';
import type { SyncDefinition } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { compileMapper, type Mapper } from '../mapping/compile.js';
import type { Source } from '../sources/index.js';

export async function compileForSource(
  sync: SyncDefinition,
  loaded: Pick<LoadedSync, 'problemAt'>,
  source: Source,
  now?: () => number,
): Promise<Mapper> {
  const available = await source.columns();
  const { mapper, problems } = compileMapper(sync, { available, now });
  if (!mapper) throw new ConfigError(problems.map((p) => loaded.problemAt(p.path, p.message)));
  return mapper;
}
