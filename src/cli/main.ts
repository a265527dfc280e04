// The pinsync program: commands are thin; every error is mapped to an exit code here, once.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { formatProblem } from '../config/load.js';
import { ConfigError, PinsyncError } from '../errors.js';
import { previewCommand } from './commands/preview.js';
import { schemaCommand } from './commands/schema.js';
import { validateCommand } from './commands/validate.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function positiveInteger(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('pinsync')
    .description('Sync conversion events from your data warehouse to the Pinterest Conversions API')
    .version(version)
    .option('--syncs-dir <dir>', 'folder of sync files', 'syncs')
    .showHelpAfterError('(run pinsync --help for usage)')
    .exitOverride();
  const globals = () => program.opts<{ syncsDir: string }>();

  program
    .command('validate')
    .description('check sync files (default: every .yaml in --syncs-dir); exit 2 if any is invalid')
    .argument('[files...]', 'sync files')
    .option('--connect', 'also open each source and check that mapped columns exist')
    .action(async (files: string[], opts: { connect?: boolean }) => {
      setExit(await validateCommand(files, { syncsDir: globals().syncsDir, connect: opts.connect }));
    });

  program
    .command('preview')
    .description('print the events a run would send, one JSON object per line; sends nothing, writes no state')
    .argument('<sync>', 'sync file, or the name of one in --syncs-dir')
    .option('--limit <n>', 'stop after n events', positiveInteger)
    .addOption(new Option('--format <format>', 'output format').choices(['ndjson', 'table']).default('ndjson'))
    .action(async (sync: string, opts: { limit?: number; format: 'ndjson' | 'table' }) => {
      setExit(await previewCommand(sync, { syncsDir: globals().syncsDir, limit: opts.limit, format: opts.format }));
    });

  program
    .command('schema')
    .description('print the JSON Schema of the sync file, for editors')
    .action(() => setExit(schemaCommand()));

  return program;
}

export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    return reportError(error);
  }
}

function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // Help and version are not errors; commander has printed the usage problem already.
    return error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : 2;
  }
  if (error instanceof ConfigError) {
    for (const problem of error.problems) process.stderr.write(`${formatProblem(problem)}\n`);
    return error.exitCode;
  }
  if (error instanceof PinsyncError) {
    process.stderr.write(`pinsync: ${error.message}\n`);
    return error.exitCode;
  }
  process.stderr.write(`pinsync: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
  if (process.env.PINSYNC_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return 1;
}
