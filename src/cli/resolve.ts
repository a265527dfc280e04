// Finding sync files: SYNC is a path, or the name of a file in --syncs-dir.
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../errors.js';

export function resolveSyncFile(arg: string, syncsDir: string): string {
  const candidates = [arg, path.join(syncsDir, `${arg}.yaml`), path.join(syncsDir, `${arg}.yml`)];
  const found = candidates.find((c) => existsSync(c) && statSync(c).isFile());
  if (!found) throw new UsageError(`no sync file '${arg}' (looked for ${candidates.join(', ')})`);
  return found;
}

export function listSyncFiles(syncsDir: string): string[] {
  if (!existsSync(syncsDir)) throw new UsageError(`syncs directory '${syncsDir}' does not exist (set --syncs-dir)`);
  return readdirSync(syncsDir)
    .filter((f) => /\.ya?ml$/i.test(f))
    .sort()
    .map((f) => path.join(syncsDir, f));
}
