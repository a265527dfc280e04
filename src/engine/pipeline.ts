// The one path from a source to event bytes, for preview and run alike: the source is opened
// and described, the mapper compiled (once), and rows are read and mapped into pages of
// event bytes (reader.ts). A run drives it on its reading thread (reader-thread.ts), a
// preview in its own thread; the bytes come from the same code either way.
import type { SyncDefinition } from '../config/schema.js';
import { compileMapper, type CompileProblem, type Mapper, type MappingDefinition } from '../mapping/compile.js';
import { createSource } from '../sources/index.js';
import type { CursorKind } from '../sources/cursor.js';
import type { Position, Source, Unreadable } from '../sources/types.js';
import { checkCursor, readUntil } from './cursor.js';
import { readPages, type PageRequest, type ReadPage } from './reader.js';

/** What the pipeline needs of a sync: the source and the mapping, never the destination's token. */
export interface PipelineSetup extends Pick<SyncDefinition, 'source' | 'file' | 'name'> {
  mapping: MappingDefinition;
}

export interface OpenOptions {
  /** Now, in milliseconds: rows stamped later are left out (see cursor.ts readUntil). */
  now: number;
  /** Where reading will start, for the count of rows it leaves out. */
  after?: Position;
}

/** The source, bound to the mapping: problems in the sync file, or what the run needs to know. */
export interface Opening {
  /** Mapped columns the source lacks, a cursor that cannot be one: not yet placed in the file. */
  problems: CompileProblem[];
  /** The cursor column's kind; undefined without a cursor. */
  cursorKind?: CursorKind;
  /** Rows a read from `after` leaves out (counted only when there are no problems). */
  unreadable?: Unreadable;
}

export interface Pipeline {
  /** Opens the source, describes it and compiles the mapper; before `pages`. */
  open(setup: PipelineSetup, options: OpenOptions): Promise<Opening>;
  pages(request: PageRequest): AsyncIterable<ReadPage>;
  /** Releases the source; safe to call more than once. */
  close(): Promise<void>;
}

export interface Bound {
  mapper?: Mapper;
  cursorKind?: CursorKind;
  problems: CompileProblem[];
}

/**
 * Describes the source (its first query, where most refusals come from), then compiles the
 * mapper against its columns and checks the cursor column.
 */
export async function bindSource(source: Source, sync: Pick<SyncDefinition, 'source'>, mapping: MappingDefinition, now?: () => number): Promise<Bound> {
  const types = await source.columnTypes();
  const { mapper, problems } = compileMapper(mapping, { available: [...types.keys()], now });
  const cursor = checkCursor(sync, types);
  return { ...(mapper ? { mapper } : {}), ...(cursor.kind ? { cursorKind: cursor.kind } : {}), problems: [...problems, ...cursor.problems] };
}

/** The pipeline in this thread; `rowsWanted` bounds the rows each page maps (a preview's --limit). */
export interface LocalPipeline extends Pipeline {
  pages(request: PageRequest, rowsWanted?: () => number): AsyncIterable<ReadPage>;
}

export function localPipeline(): LocalPipeline {
  let source: Source | undefined;
  let mapper: Mapper | undefined;
  return {
    async open(setup, options) {
      source = await createSource(setup);
      const bound = await bindSource(source, setup, setup.mapping);
      if (!bound.mapper || bound.problems.length > 0) return { problems: bound.problems };
      mapper = bound.mapper;
      const unreadable = await source.unreadableRows(readUntil(bound.cursorKind, options.now), options.after);
      return { problems: [], ...(bound.cursorKind ? { cursorKind: bound.cursorKind } : {}), unreadable };
    },
    pages(request, rowsWanted) {
      if (!source || !mapper) throw new Error('the pipeline was not opened');
      return readPages(source, mapper, request, rowsWanted);
    },
    async close() {
      await source?.close();
    },
  };
}
