// The README's and docs/'s examples must work as written: their sync files validate, their
// mapping examples compile, and their pinsync commands succeed against the built CLI.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSync } from '../../src/config/load.js';
import { compileMapper } from '../../src/mapping/compile.js';
import { BIN, ROOT } from '../helpers/cli.js';

const pages = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const blocksOf = (page: string) => [...readFileSync(path.join(ROOT, page), 'utf8').matchAll(/```(\w+)\n([\s\S]*?)```/g)]
  .map((m) => ({ page, lang: m[1]!, body: m[2]! }));
// The quick start's sample output is compared against the README alone; every other check runs
// over the README and every docs/*.md page together.
const readmeBlocks = blocksOf('README.md');
const blocks = pages.flatMap(blocksOf);
const env = { PINTEREST_AD_ACCOUNT_ID: '549757463328', PINTEREST_ACCESS_TOKEN: 'token', WAREHOUSE_URL: 'postgres://localhost/warehouse',
  REDSHIFT_URL: 'postgres://pinsync_reader:password@my-cluster.abc123xyz789.us-east-1.redshift.amazonaws.com:5439/dev',
  SNOWFLAKE_ACCOUNT: 'myorg-myaccount', SNOWFLAKE_KEY_PASSPHRASE: 'passphrase' };

const BASE = `version: 1
source: { type: duckdb, table: orders, primary_key: order_id }
match: { em: email }
`;

describe('README and docs/ examples', () => {
  const syncs = blocks.filter((b) => b.lang === 'yaml' && b.body.startsWith('version: 1'));
  const mappingBlocks = blocks.filter((b) => b.lang === 'yaml' && b.body.startsWith('mappings:'));

  it('reads the docs pages', () => expect(pages.length).toBeGreaterThan(1));

  it('has examples to check', () => {
    expect(syncs.length).toBeGreaterThanOrEqual(2);
    expect(mappingBlocks.length).toBeGreaterThanOrEqual(1);
    // the README itself keeps its minimal sync file and the quick start's commands
    expect(readmeBlocks.filter((b) => b.lang === 'yaml' && b.body.startsWith('version: 1')).length).toBeGreaterThanOrEqual(1);
    expect(readmeBlocks.filter((b) => b.lang === 'sh' && b.body.includes('npx pinsync')).length).toBeGreaterThanOrEqual(3);
  });

  it.each(syncs.map((b, i) => [i, b.page, b.body]))('sync file example %i (%s) is valid', (_i, _page, body) => {
    const loaded = parseSync(body, 'README.yaml', { env, requireDestination: body.includes('destination:') });
    expect(loaded.problems).toEqual([]);
  });

  it.each(mappingBlocks.map((b, i) => [i, b.page, b.body]))('mapping example %i (%s) compiles', (_i, _page, body) => {
    const loaded = parseSync(BASE + body, 'README.yaml', { env, requireDestination: false });
    expect(loaded.problems).toEqual([]);
    const { mapper, problems } = compileMapper(loaded.sync!);
    expect(problems).toEqual([]);
    expect(mapper!.columns).toEqual(expect.arrayContaining(['completed_at', 'kind', 'items', 'skus']));
  });

  const commands = blocks
    .filter((b) => b.lang === 'sh')
    .flatMap((b) => b.body.split('\n'))
    .filter((line) => line.includes('npx pinsync'));
  const work = mkdtempSync(path.join(tmpdir(), 'pinsync-readme-'));
  cpSync(path.join(ROOT, 'syncs'), path.join(work, 'syncs'), { recursive: true });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('has commands to run', () => expect(commands.length).toBeGreaterThanOrEqual(3));

  it('shows what the quick start\'s preview prints on stderr', async () => {
    const shown = readmeBlocks.find((b) => b.lang === 'text' && b.body.startsWith('ord_'));
    expect(shown, 'the quick start\'s sample output').toBeDefined();
    const result = await promisify(execFile)('node', [BIN, 'preview', 'syncs/example.yaml', '--limit', '3'], { cwd: work });
    expect(result.stderr).toBe(shown!.body);
  });

  it.each(commands)('%s', async (line) => {
    const command = line.replace('npx pinsync', `node ${BIN}`);
    const result = await promisify(execFile)('bash', ['-c', command], { cwd: work, env: { ...process.env, PINTEREST_AD_ACCOUNT_ID: undefined, PINTEREST_ACCESS_TOKEN: undefined } })
      .then(() => ({ code: 0, stderr: '' }), (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }));
    expect(result, result.stderr).toEqual({ code: 0, stderr: '' });
  });
});
