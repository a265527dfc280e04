// Lint: typescript-eslint's recommended rules, and the layers of src/ (CONTRIBUTING.md, under Layout):
// cli -> engine -> {sources, mapping, pinterest, state} -> config -> core. A layer may import any
// layer below it, never one above, and the four middle layers never import each other; no cycles.
import js from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import tseslint from 'typescript-eslint';

const MIDDLE = ['sources', 'mapping', 'pinterest', 'state'];

/** The layers below each layer of src/: what it may import, besides its own files. */
export const LAYERS = {
  cli: ['engine', ...MIDDLE, 'config', 'core'],
  engine: [...MIDDLE, 'config', 'core'],
  sources: ['config', 'core'],
  mapping: ['config', 'core'],
  pinterest: ['config', 'core'],
  state: ['config', 'core'],
  config: ['core'],
  // Patches of other packages' internals: they stand on nothing of pinsync's but core.
  patches: ['core'],
  core: [],
};

// The process entry points (the CLI's, the reading thread's) apply src/patches/ before anything else loads.
const ENTRY_FILES = ['src/cli/index.ts', 'src/engine/reader-worker.ts'];

/** Where the layers are: src/ under `root` (the test lints a small tree of its own). */
export function settingsFor(root) {
  const tsconfig = `${root}/tsconfig.json`;
  return {
    'boundaries/root-path': root,
    // boundaries resolves imports through eslint-module-utils (this legacy key), import-x its own way.
    'import/resolver': { typescript: { project: tsconfig } },
    'import-x/resolver-next': [createTypeScriptImportResolver({ project: tsconfig })],
    // import-x parses each imported module to follow its imports (no-cycle): TypeScript needs its parser.
    'import-x/extensions': ['.ts', '.js'],
    'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    // Packages cannot import pinsync's modules back: no-cycle need not read them.
    'import-x/ignore': ['node_modules'],
    'boundaries/include': ['src/**/*.ts'],
    'boundaries/elements': Object.keys(LAYERS).map((type) => ({ type, pattern: `src/${type}/**`, partialMatch: false })),
    'boundaries/files': [{ category: 'entry', pattern: ENTRY_FILES }],
  };
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  {
    files: ['src/**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    plugins: { boundaries, 'import-x': importX },
    settings: settingsFor(import.meta.dirname),
    rules: {
      'boundaries/dependencies': ['error', {
        default: 'disallow',
        checkUnknownLocals: true,
        policies: [
          ...Object.entries(LAYERS).map(([type, below]) => ({
            from: { element: { type } },
            allow: { to: { element: { types: { anyOf: [type, ...below] } } } },
          })),
          { from: { file: { categories: 'entry' } }, allow: { to: { element: { type: 'patches' } } } },
        ],
      }],
      // Every file in src/ belongs to a layer.
      'boundaries/no-unknown-files': 'error',
      // A cycle of modules within a layer (across layers, one import would go upward). Type-only
      // imports load nothing, so import-x leaves them out.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // A leading _ marks a parameter a callback's signature has but the body does not need.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
);
