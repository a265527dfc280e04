// Builds syncs from YAML text through the same loader the CLI uses.
import { parseSync } from '../../src/config/load.js';
import type { SyncDefinition } from '../../src/config/schema.js';
import { compileMapper, type CompileOptions, type Mapper, type MapOutcome } from '../../src/mapping/compile.js';

export const NOW = Date.UTC(2026, 10, 20, 12, 0, 0);

export const BASE_SYNC = `
version: 1
source:
  type: duckdb
  table: orders
  primary_key: order_id
match:
  em: email
mappings:
  event_name: { value: checkout }
  action_source: { value: web }
  event_time: completed_at
`;

export function syncFrom(yaml: string, env: Record<string, string> = {}): SyncDefinition {
  const loaded = parseSync(yaml, 'test.yaml', { env, requireDestination: false });
  if (!loaded.sync) throw new Error(`invalid test sync:\n${loaded.problems.map((p) => `${p.line}:${p.col} ${p.path}: ${p.message}`).join('\n')}`);
  return loaded.sync;
}

/** A compiled mapper that takes rows as objects keyed by column name, for readable tests. */
export interface ObjectMapper {
  map(row: Record<string, unknown>): MapOutcome;
  keyOf(row: Record<string, unknown>): string;
  droppedIdentifiers: Mapper['droppedIdentifiers'];
}

export function mapperFrom(yaml: string, options: CompileOptions = {}): ObjectMapper {
  const { mapper, problems } = compileMapper(syncFrom(yaml), { now: () => NOW, ...options });
  if (!mapper) throw new Error(problems.map((p) => p.message).join('\n'));
  const toRow = (row: Record<string, unknown>) => mapper.columns.map((c) => row[c]);
  return {
    map: (row) => mapper.map(toRow(row)),
    keyOf: (row) => mapper.keyOf(toRow(row)),
    droppedIdentifiers: mapper.droppedIdentifiers,
  };
}

/** A YAML sync with extra match and mapping lines appended to the base. */
export function withLines(extra: { match?: string[]; mappings?: string[]; options?: string[] }): string {
  let yaml = BASE_SYNC;
  if (extra.match) yaml = yaml.replace('  em: email\n', `  em: email\n${extra.match.map((l) => `  ${l}\n`).join('')}`);
  if (extra.mappings) yaml += extra.mappings.map((l) => `  ${l}\n`).join('');
  if (extra.options) yaml += `options:\n${extra.options.map((l) => `  ${l}\n`).join('')}`;
  return yaml;
}
