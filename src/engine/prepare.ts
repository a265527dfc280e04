// Binds a validated sync to its source: checks mapped columns exist and the cursor is one
// that can be checkpointed, and compiles the mapper; problems are placed in the sync file.
import { formatProblem, loadSyncFile, type LoadedSync } from '../config/load.js';
import type { SyncDefinition } from '../config/schema.js';
import { ConfigError, RefusedQueryError } from '../core/errors.js';
import { mappingDefinition, type CompileProblem, type Mapper } from '../mapping/compile.js';
import { createSource, type Source } from '../sources/index.js';
import { compileMembers, type MemberReader } from '../mapping/members.js';
import type { CursorKind } from '../sources/cursor.js';
import { bindSource, type OpenOptions, type Opening, type Pipeline } from './pipeline.js';

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

/** Compile problems placed in the sync file, in the file's order. */
function placed(problems: CompileProblem[], loaded: Pick<LoadedSync, 'problemAt'>): ConfigError {
  return new ConfigError(problems.map((p) => loaded.problemAt(p.path, p.message)).sort((a, b) => a.line - b.line || a.col - b.col));
}

export async function compileForSource(
  sync: SyncDefinition,
  loaded: Pick<LoadedSync, 'problemAt'>,
  source: Source,
  now?: () => number,
): Promise<Compiled> {
  let bound: Awaited<ReturnType<typeof bindSource>>;
  try {
    bound = await bindSource(source, sync, mappingDefinition(sync), now);
  } catch (error) {
    // The first query a source runs checks the sync's own (describe): most refusals come from here.
    throw locateRefusal(error, loaded);
  }
  if (!bound.mapper || bound.problems.length > 0) throw placed(bound.problems, loaded);
  return { mapper: bound.mapper, ...(bound.cursorKind ? { cursorKind: bound.cursorKind } : {}) };
}

/** Opens a sync's pipeline: a problem in the sync file is a ConfigError placed in it (exit 2). */
export async function openPipeline(pipeline: Pipeline, sync: SyncDefinition, loaded: Pick<LoadedSync, 'problemAt'>, options: OpenOptions): Promise<Opening> {
  let opening: Opening;
  try {
    opening = await pipeline.open({ source: sync.source, file: sync.file, name: sync.name, mapping: mappingDefinition(sync) }, options);
  } catch (error) {
    throw locateRefusal(error, loaded);
  }
  if (opening.problems.length > 0) throw placed(opening.problems, loaded);
  return opening;
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

/** An audience sync's rows' reader for this source: a missing column is a ConfigError placed in the file. */
export async function compileAudienceForSource(sync: SyncDefinition, loaded: Pick<LoadedSync, 'problemAt'>, source: Source): Promise<MemberReader> {
  let available: string[];
  try {
    available = await source.columns();
  } catch (error) {
    throw locateRefusal(error, loaded);
  }
  const { reader, problems } = compileMembers(sync, available);
  if (!reader || problems.length > 0) throw placed(problems, loaded);
  return reader;
}

/** An audience sync's source, opened, and its rows' reader. */
export async function openAudienceSource(sync: SyncDefinition, loaded: Pick<LoadedSync, 'problemAt'>): Promise<{ source: Source; reader: MemberReader }> {
  const source = await createSource(sync);
  try {
    return { source, reader: await compileAudienceForSource(sync, loaded, source) };
  } catch (error) {
    await source.close().catch(() => undefined);
    throw error;
  }
}
