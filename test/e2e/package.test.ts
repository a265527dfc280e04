// The npm package ships what runs and nothing else; a checkout builds its bundle on first use.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const run = promisify(execFile);

const filesUnder = (dir: string): string[] =>
  readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)));

describe('the npm package', () => {
  it('holds bin, the bundle, the example syncs and the docs pages: no source maps, per-module build, tests or sources', async () => {
    // --ignore-scripts: prepack would rebuild the bundle that the other e2e tests are running.
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT });
    const [pack] = JSON.parse(stdout) as { files: { path: string }[] }[];
    const shipped = pack!.files.map((file) => file.path).sort();
    const docsPages = readdirSync(path.join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`);
    const expected = ['LICENSE', 'README.md', 'package.json', 'bin/pinsync.js', ...filesUnder('dist/bundle'), ...filesUnder('syncs'), ...docsPages].sort();
    expect(shipped).toEqual(expected);
    expect(shipped).toEqual(expect.arrayContaining(['dist/bundle/index.js', 'dist/bundle/reader-worker.js', 'dist/bundle/THIRD_PARTY_LICENSES.txt', 'syncs/example.yaml', 'syncs/data/orders.csv', 'docs/reference.md']));
    expect(shipped.filter((file) => file.endsWith('.map') || /^(src|test|scripts)\//.test(file) || /^dist\/(?!bundle\/)/.test(file))).toEqual([]);
  });

  it('is built on prepack, so installing it runs no script of pinsync', () => {
    const { scripts } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(scripts.prepack).toBe('npm run build');
    expect(Object.keys(scripts).filter((name) => /^(pre|post)?(install|prepare)$/.test(name))).toEqual([]);
  });
});

describe('bin/pinsync.js in a checkout without a bundle', () => {
  const checkout = mkdtempSync(path.join(tmpdir(), 'pinsync-checkout-'));
  afterAll(() => rmSync(checkout, { recursive: true, force: true }));

  it('builds dist/bundle from src/ on first use, then runs the command; later runs use it', async () => {
    for (const part of ['bin', 'src', 'syncs', 'scripts/bundle.mjs', 'package.json']) cpSync(path.join(ROOT, part), path.join(checkout, part), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(checkout, 'node_modules'));
    const bin = path.join(checkout, 'bin/pinsync.js');
    expect(existsSync(path.join(checkout, 'dist'))).toBe(false);

    // execFile fails the test on a non-zero exit code.
    const first = await run(process.execPath, [bin, 'preview', 'syncs/example.yaml', '--limit', '3'], { cwd: checkout });
    expect(first.stderr).toMatch(/^pinsync: building dist\/bundle from src\/ \(first run in this checkout\)\n/);
    expect(first.stdout.trimEnd().split('\n').map((line) => (JSON.parse(line) as { event_id: string }).event_id)).toEqual(['ord_000003', 'ord_000001', 'ord_000008']);
    expect(readdirSync(path.join(checkout, 'dist'))).toEqual(['bundle']);
    expect(existsSync(path.join(checkout, 'dist/bundle/index.js'))).toBe(true);
    expect(readdirSync(path.join(checkout, 'dist/bundle')).filter((name) => name.endsWith('.map'))).toEqual([]);

    const second = await run(process.execPath, [bin, 'preview', 'syncs/example.yaml', '--limit', '3'], { cwd: checkout });
    expect(second.stderr).not.toContain('building');
    expect(second.stderr).not.toContain('older than src/');
    expect(second.stdout).toBe(first.stdout);

    // After a change to src/ (a git pull), the bundle is not rebuilt under a run that may use it: a warning says so.
    const later = new Date(Date.now() + 60_000);
    utimesSync(path.join(checkout, 'src/cli/main.ts'), later, later);
    const stale = await run(process.execPath, [bin, 'preview', 'syncs/example.yaml', '--limit', '3'], { cwd: checkout });
    expect(stale.stderr.split('\n')[0]).toBe('pinsync: warning: dist/bundle is older than src/ (after a git pull?); run `npm run build`');
    expect(stale.stdout).toBe(first.stdout);
  }, 120_000); // a build and three runs: slow on a busy machine
});
