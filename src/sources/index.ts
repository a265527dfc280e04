import * as path from 'node:path';
import type { SyncDefinition } from '../config/schema.js';
import { DuckdbSource } from './duckdb/index.js';
import { PostgresSource } from './postgres/index.js';
import type { Source } from './types.js';

export type { Position, ReadOptions, Source } from './types.js';

/** The source a sync reads from. Relative paths resolve from the sync file's folder. */
export function createSource(sync: SyncDefinition): Source {
  const baseDir = path.dirname(sync.file);
  switch (sync.source.type) {
    case 'duckdb':
      return new DuckdbSource(sync.source, baseDir);
    case 'postgres':
      return new PostgresSource(sync.source);
  }
}
