import { formatProblem, loadSyncFile, type Problem } from '../../config/load.js';
import { compileAudienceForSource, compileForSource, locateRefusal } from '../../engine/prepare.js';
import { ConfigError, PinsyncError } from '../../core/errors.js';
import { createSource, type Source } from '../../sources/index.js';
import { listSyncFiles } from '../resolve.js';
import { plural } from '../output.js';
import { ExitCode } from '../../core/types.js';

export interface ValidateOptions {
  syncsDir: string;
  /** Also open each source and check that mapped columns exist. */
  connect?: boolean;
}

/** Rows whose primary key validate --connect looks at: one column of at most this many rows. */
export const KEY_CHECK_ROWS = 1_000_000;

/** Whether the primary key repeats in a bounded sample; never names a value (it could be an email). */
async function repeatedKeyProblem(column: string, source: Source): Promise<string | undefined> {
  const check = await source.checkKey(KEY_CHECK_ROWS);
  if (check.most <= 1) return undefined;
  const n = (x: number) => x.toLocaleString('en-US');
  return `primary_key '${column}' is not unique: one value is shared by ${n(check.most)} rows (${n(check.distinctKeys)} distinct values in the ${n(check.checked)} rows checked). `
    + 'Each row needs its own key (it becomes event_id): choose a unique column, or build one in a query';
}

export async function validateCommand(files: string[], options: ValidateOptions): Promise<ExitCode> {
  const targets = files.length > 0 ? files : listSyncFiles(options.syncsDir);
  if (targets.length === 0) {
    process.stderr.write(`no sync files in ${options.syncsDir}\n`);
    return ExitCode.invalid;
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
          if (sync.kind === 'audience') {
            // A member listed twice is one member: a repeated key is no problem for a list.
            await compileAudienceForSource(sync, loaded, source);
          } else {
            await compileForSource(sync, loaded, source);
            const repeated = await repeatedKeyProblem(sync.source.primary_key, source);
            if (repeated) fileProblems.push(loaded.problemAt(['source', 'primary_key'], repeated));
          }
        } catch (caught) {
          const error = locateRefusal(caught, loaded);
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
    return ExitCode.invalid;
  }
  return ExitCode.success;
}
