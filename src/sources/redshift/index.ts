// Placeholder until the Redshift source lands (issue 22).
import type { RedshiftSourceConfig } from '../../config/schema.js';
import { PostgresSource } from '../postgres/index.js';
import type { ColumnTypes } from '../types.js';

export class RedshiftSource extends PostgresSource {
  constructor(config: RedshiftSourceConfig, known?: ColumnTypes) {
    super({ type: 'postgres', primary_key: config.primary_key }, known);
    throw new Error('the redshift source is not built yet');
  }
}
