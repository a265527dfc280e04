import { formatProblem, loadSyncFile, type Problem } from '../../config/load.js';
import { compileForSource } from '../../engine/prepare.js';
import { ConfigError, PinsyncError } from '../../errors.js';
import { createSource } from '../../sources/index.js';
import { listSyncFiles } from '../resolve.js';
import { plural } from '../output.js';

export interface ValidateOptions {
  syncsDir: string;
  /** Also open each source and check that mapped columns exist. */
  connect?: boolean;
}

export async function validateCommand(files: string[], options: ValidateOptions): Promise<number> {
  const targets = files.length > 0 ? files : listSyncFiles(options.syncsDir);
  if (targets.length === 0) {
    process.stderr.write(`no sync files in ${options.syncsDir}\n`);
    return 2;
  }
  const problems: Problem[] = [];
  const names = new Map<string, string>();
  let valid = 0;
  for (const file of targets) {
    const loaded = await loadSyncFile(file);
    const fileProblems = [...loaded.problems];
    const other = names.get(loaded.name);
    if (other) fileProblems.push(loaded.problemAt(['name'], `sync name '${loaded.name}' is also used by ${other}; names key the state and must be unique`));
    else names.set(loaded.name, file);
    const sync = loaded.sync;
    if (sync) {
      if (options.connect && fileProblems.length === 0) {
        const source = await createSource(sync);
        try {
          await compileForSource(sync, loaded, source);
        } catch (error) {
          if (error instanceof ConfigError) fileProblems.push(...error.problems);
          else if (error instanceof PinsyncError) fileProblems.push(loaded.problemAt(['source'], error.message));
          else throw error;
        } finally {
          await source.close();
        }
      }
    }
    if (fileProblems.length === 0) {
      valid++;
      process.stdout.write(`ok  ${file}\n`);
    }
    problems.push(...fileProblems);
  }
  for (const problem of problems) process.stderr.write(`${formatProblem(problem)}\n`);
  const invalid = targets.length - valid;
  if (invalid > 0) {
    process.stderr.write(`${plural(invalid, 'invalid file')} of ${targets.length}, ${plural(problems.length, 'problem')}\n`);
    return 2;
  }
  return 0;
}
