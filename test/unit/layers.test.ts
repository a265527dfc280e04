// The lint config (eslint.config.js) enforces the layers of src/: linted here against a small
// tree of one file per layer, so each rule is seen to reject what it must and allow the rest.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CONFIG = fileURLToPath(new URL('../../eslint.config.js', import.meta.url));
const { settingsFor } = (await import(CONFIG)) as { settingsFor: (root: string) => Record<string, unknown> };

// One module per layer; the cycle pair imports each other.
const TREE: Record<string, string> = {
  'src/core/types.ts': 'export const core = 1;\n',
  'src/core/cycle-a.ts': "import { b } from './cycle-b.js';\nexport const a = (): number => b() + 1;\n",
  'src/core/cycle-b.ts': "import { a } from './cycle-a.js';\nexport const b = (): number => a() - 1;\n",
  'src/config/schema.ts': 'export const config = 1;\n',
  'src/sources/index.ts': 'export const sources = 1;\n',
  'src/mapping/compile.ts': 'export const mapping = 1;\n',
  'src/pinterest/client.ts': 'export const pinterest = 1;\n',
  'src/state/store.ts': 'export const state = 1;\n',
  'src/engine/run.ts': 'export const engine = 1;\n',
  'src/engine/reader-worker.ts': 'export const worker = 1;\n',
  'src/cli/main.ts': 'export const cli = 1;\n',
  'src/cli/index.ts': 'export const entry = 1;\n',
  'src/patches/pg.ts': 'export const patch = 1;\n',
};

let root: string;
let eslint: ESLint;

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'pinsync-layers-'));
  for (const [file, text] of Object.entries(TREE)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  }
  writeFileSync(path.join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['src'] }));
  eslint = new ESLint({ cwd: root, overrideConfigFile: CONFIG, overrideConfig: { settings: settingsFor(root) } });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The rules that fail `from` importing `spec` (a path relative to src/). */
async function ruleIdsOf(from: string, spec: string): Promise<(string | null)[]> {
  const [result] = await eslint.lintText(`import * as imported from '${spec}';\nexport const used = imported;\n`, { filePath: path.join(root, 'src', from) });
  return result!.messages.map((m) => m.ruleId);
}

describe('the layers', () => {
  it.each([
    ['cli/main.ts', '../engine/run.js'],
    ['cli/main.ts', '../config/schema.js'],
    ['engine/run.ts', '../mapping/compile.js'],
    ['mapping/compile.ts', '../config/schema.js'],
    ['state/store.ts', '../core/types.js'],
    ['config/schema.ts', '../core/types.js'],
    ['cli/index.ts', '../patches/pg.js'],
    ['engine/reader-worker.ts', '../patches/pg.js'],
    ['patches/pg.ts', '../core/types.js'],
  ])('let %s import %s', async (from, spec) => {
    expect(await ruleIdsOf(from, spec)).toEqual([]);
  });

  it.each([
    ['core/types.ts', '../config/schema.js'],
    ['config/schema.ts', '../mapping/compile.js'],
    ['config/schema.ts', '../pinterest/client.js'],
    ['pinterest/client.ts', '../mapping/compile.js'],
    ['sources/index.ts', '../mapping/compile.js'],
    ['state/store.ts', '../sources/index.js'],
    ['mapping/compile.ts', '../engine/run.js'],
    ['engine/run.ts', '../cli/main.js'],
    ['cli/main.ts', '../patches/pg.js'],
    ['engine/run.ts', '../patches/pg.js'],
    ['mapping/compile.ts', '../patches/pg.js'],
    ['patches/pg.ts', '../config/schema.js'],
  ])('refuse %s importing %s', async (from, spec) => {
    expect(await ruleIdsOf(from, spec)).toEqual(['boundaries/dependencies']);
  });

  it('refuses a file outside every layer', async () => {
    const [result] = await eslint.lintText('export const stray = 1;\n', { filePath: path.join(root, 'src', 'stray.ts') });
    expect(result!.messages.map((m) => m.ruleId)).toEqual(['boundaries/no-unknown-files']);
  });

  it('refuses an import cycle, even within one layer', async () => {
    const results = await eslint.lintFiles(['src/core/cycle-a.ts', 'src/core/cycle-b.ts']);
    expect(results.map((r) => r.messages.map((m) => m.ruleId))).toEqual([['import-x/no-cycle'], ['import-x/no-cycle']]);
  });
});
