// Placeholder until the Snowflake source lands (issue 22).
import type { SnowflakeSourceConfig } from '../../config/schema.js';
import { PostgresSource } from '../postgres/index.js';
import type { ColumnTypes } from '../types.js';

export class SnowflakeSource extends PostgresSource {
  constructor(config: SnowflakeSourceConfig, syncName: string, known?: ColumnTypes) {
    super({ type: 'postgres', primary_key: config.primary_key }, known);
    throw new Error(`the snowflake source is not built yet (${syncName})`);
  }
}
