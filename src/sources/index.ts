import * as path from 'node:path';
import type { SyncDefinition } from '../config/schema.js';
import type { ColumnTypes, Source } from './types.js';

export type { Position, ReadOptions, Source } from './types.js';

/**
 * The source a sync reads from. Drivers load on demand: a PostgreSQL run does not pay
 * for DuckDB's native library, nor the reverse. Relative paths resolve from the sync file's folder.
 * `known`: column types described already (by another thread), so the source is not asked again.
 */
export async function createSource(sync: Pick<SyncDefinition, 'source' | 'file' | 'name'>, known?: ColumnTypes): Promise<Source> {
  switch (sync.source.type) {
    case 'duckdb': {
      const { DuckdbSource } = await import('./duckdb/index.js');
      return new DuckdbSource(sync.source, path.dirname(sync.file), known);
    }
    case 'postgres': {
      const { PostgresSource } = await import('./postgres/index.js');
      return new PostgresSource(sync.source, known);
    }
    case 'bigquery': {
      const { BigquerySource } = await import('./bigquery/index.js');
      const source = sync.source.credentials_file ? { ...sync.source, credentials_file: path.resolve(path.dirname(sync.file), sync.source.credentials_file) } : sync.source;
      return new BigquerySource(source, known);
    }
    case 'snowflake': {
      const { SnowflakeSource } = await import('./snowflake/index.js');
      const source = sync.source.private_key_file ? { ...sync.source, private_key_file: path.resolve(path.dirname(sync.file), sync.source.private_key_file) } : sync.source;
      return new SnowflakeSource(source, sync.name, known);
    }
    case 'redshift': {
      const { RedshiftSource } = await import('./redshift/index.js');
      return new RedshiftSource(sync.source, known);
    }
  }
}
