// docs/reference.md, docs/sources.md, docs/snowflake.md and docs/redshift.md hold key tables generated from the sync file's schema;
// they must be in step with it (`npm run docs:reference` regenerates them).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { syncJsonSchema } from '../../src/config/schema.js';
import { markersOf, renderKeyTables, type JsonSchema } from '../../scripts/reference-tables.js';

const page = (name: string) => readFileSync(new URL(`../../docs/${name}`, import.meta.url), 'utf8');
const schema = syncJsonSchema() as JsonSchema;

describe('the key tables of the docs', () => {
  it.each([
    ['reference.md', ['sync', 'source', 'destination', 'options']],
    ['sources.md', ['source.duckdb', 'source.postgres', 'source.bigquery']],
    ['snowflake.md', ['source.snowflake']],
    ['redshift.md', ['source.redshift']],
  ])('%s is in step with src/config/schema.ts (npm run docs:reference)', (name, markers) => {
    const text = page(name);
    expect(markersOf(text)).toEqual(markers);
    expect(renderKeyTables(text, schema)).toBe(text);
  });

  it('renders every key of a table with its type, default and description', () => {
    const text = '<!-- keys:destination -->\n<!-- /keys -->';
    const rendered = renderKeyTables(text, schema);
    const rows = rendered.split('\n').filter((line) => line.startsWith('| `'));
    expect(rows.map((row) => row.split(' | ')[0])).toEqual(
      ['ad_account_id', 'access_token', 'test', 'batch_size', 'concurrency', 'max_requests_per_minute', 'timeout', 'max_retry_time', 'customer_list', 'audience', 'records_per_request'].map((k) => `| \`${k}\``),
    );
    expect(rows.find((row) => row.startsWith('| `batch_size`'))).toBe(
      `| \`batch_size\` | integer, 1–1000 | \`1000\` | ${(schema.properties!.destination!.properties!.batch_size!.description!)} |`,
    );
  });

  it('splits the source keys into shared ones and each type\'s own', () => {
    const rendered = renderKeyTables('<!-- keys:source -->\n<!-- /keys -->\n<!-- keys:source.bigquery -->\n<!-- /keys -->', schema);
    expect(rendered).toContain('| `type` | `duckdb` or `postgres` or `bigquery` or `snowflake` or `redshift` | required |');
    expect(rendered).toContain('| `project` | text | required |');
    expect(rendered).toContain('| `job_timeout` | duration | `10m` |');
    expect(rendered.match(/\| `cursor` \|/g)).toHaveLength(1);
  });

  it('refuses a marker that names nothing, and a key without a description', () => {
    expect(() => renderKeyTables('<!-- keys:nowhere -->\n<!-- /keys -->', schema)).toThrow("'nowhere' names no table of keys in the sync file schema");
    expect(() => renderKeyTables('<!-- keys:sync -->\n<!-- /keys -->', { properties: { x: { type: 'string' } } }))
      .toThrow("the sync file schema has no description for 'x'");
  });
});
