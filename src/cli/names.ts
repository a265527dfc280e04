// A sync's name keys its checkpoint, lock and runs: two files with one name would share them and
// lose rows between them, so commands that run several files refuse that before running any.
import * as path from 'node:path';
import { formatProblem, loadSyncFile, type LoadedSync, type Problem } from '../config/load.js';

export interface NamedFile {
  file: string;
  loaded: LoadedSync;
}

export interface Clash {
  name: string;
  problem: Problem;
}

/** Loads each file (a file named twice once), and lists every name two of them share. */
export async function loadNamed(files: string[], options: { requireDestination: boolean }): Promise<{ named: NamedFile[]; clashes: Clash[] }> {
  const named: NamedFile[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    const key = path.resolve(file);
    if (seen.has(key)) continue;
    seen.add(key);
    named.push({ file, loaded: await loadSyncFile(file, options) });
  }
  const first = new Map<string, string>();
  const clashes: Clash[] = [];
  for (const { file, loaded } of named) {
    const other = first.get(loaded.name);
    if (other === undefined) first.set(loaded.name, file);
    else clashes.push({ name: loaded.name, problem: loaded.problemAt(['name'], `sync name '${loaded.name}' is also the name of ${other}; the two would share one checkpoint and lose rows: give each sync file its own name`) });
  }
  return { named, clashes };
}

/** One line per shared name, through `report`; whether there were any. */
export function reportClashes(clashes: Clash[], report: (name: string, line: string) => void): boolean {
  for (const { name, problem } of clashes) report(name, formatProblem(problem));
  return clashes.length > 0;
}
