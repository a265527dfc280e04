// Finding sync files: SYNC is a path, a file name in --syncs-dir, or a sync's `name:`.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { UsageError } from '../core/errors.js';

export function listSyncFiles(syncsDir: string): string[] {
  if (!existsSync(syncsDir)) throw new UsageError(`syncs directory '${syncsDir}' does not exist (set --syncs-dir)`);
  return readdirSync(syncsDir)
    .filter((f) => /\.ya?ml$/i.test(f))
    .sort()
    .map((f) => path.join(syncsDir, f));
}

function declaredName(file: string): unknown {
  try {
    return (parse(readFileSync(file, 'utf8')) as { name?: unknown } | null)?.name;
  } catch {
    return undefined; // an unparsable file is reported when it is loaded, not here
  }
}

export function resolveSyncFile(arg: string, syncsDir: string): string {
  const candidates = [arg, path.join(syncsDir, `${arg}.yaml`), path.join(syncsDir, `${arg}.yml`)];
  const found = candidates.find((c) => existsSync(c) && statSync(c).isFile());
  if (found) return found;
  const byName = existsSync(syncsDir) ? listSyncFiles(syncsDir).find((f) => declaredName(f) === arg) : undefined;
  if (byName) return byName;
  throw new UsageError(`no sync file or sync named '${arg}' (looked for ${candidates.join(', ')}, and names in ${syncsDir}/)`);
}
