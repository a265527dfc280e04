// The pinsync program: commands are thin; every error is mapped to an exit code here, once.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { formatProblem } from '../config/load.js';
import { ConfigError, PinsyncError } from '../core/errors.js';
import { redact } from '../core/redact.js';
import { previewCommand } from './commands/preview.js';
import { schemaCommand } from './commands/schema.js';
import { validateCommand } from './commands/validate.js';
import { runCommand } from './commands/run.js';
import { DEFAULT_REJECTS_SHOWN, statusCommand } from './commands/status.js';
import { resetCommand } from './commands/reset.js';
import { VERSION } from './output.js';
import type { LogFormat } from './report.js';
import { scheduleCommand } from './commands/schedule.js';
import { ExitCode } from '../core/types.js';


function positiveInteger(text: string): number {
  const n = Number(text);
  // 0 would print nothing (--limit) or be taken as 1 (--parallel): refused rather than guessed at.
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

function rejectsToList(text: string): number | 'all' {
  return text === 'all' ? 'all' : positiveInteger(text);
}

export function buildProgram(setExit: (code: ExitCode) => void): Command {
  const program = new Command('pinsync')
    .description('Sync conversion events from your data warehouse to the Pinterest Conversions API')
    .version(VERSION)
    .option('--syncs-dir <dir>', 'folder of sync files', 'syncs')
    .option('--state <url>', 'state store: a SQLite file or postgres:// URL (default: $PINSYNC_STATE, else .pinsync/state.db)')
    .addOption(new Option('--log-format <format>', 'human lines, or one JSON object per line on stderr').choices(['human', 'json']).default('human'))
    .showHelpAfterError('(run pinsync --help for usage)')
    .exitOverride();
  const globals = () => program.opts<{ syncsDir: string; state?: string; logFormat: LogFormat }>();

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
    .option('--limit <n>', 'stop after n events (audience syncs: show n sample digests of each change)', positiveInteger)
    .addOption(new Option('--format <format>', 'output format').choices(['ndjson', 'table']).default('ndjson'))
    .option('--remote-test', 'send the batches with ?test=true: Pinterest validates them, records nothing; no state is written')
    .option('--full-refresh', 'read from the start instead of from the checkpoint')
    .action(async (sync: string, opts: { limit?: number; format: 'ndjson' | 'table'; remoteTest?: boolean; fullRefresh?: boolean }) => {
      setExit(await previewCommand(sync, { syncsDir: globals().syncsDir, state: globals().state, ...opts }));
    });

  program
    .command('run')
    .description('send new rows of each sync to Pinterest, advancing its checkpoint past settled batches')
    .argument('[syncs...]', 'sync files or names')
    .option('--all', 'run every sync in --syncs-dir')
    .option('--due', 'run the syncs in --syncs-dir whose schedule is due (for a crontab line or a CI schedule)')
    .option('--parallel <n>', 'run up to n syncs at once (default 1)', positiveInteger)
    .option('--dry-run', 'print the events instead of sending them (same as preview)')
    .option('--full-refresh', 'read from the start, ignoring the checkpoint')
    .option('--json', 'print one JSON summary per sync')
    .option('--allow-removals', 'audience syncs: remove members even beyond options.max_removal_rate, or all of them')
    .action(async (syncs: string[], opts: { all?: boolean; due?: boolean; parallel?: number; dryRun?: boolean; fullRefresh?: boolean; json?: boolean; allowRemovals?: boolean }) => {
      setExit(await runCommand(syncs, { syncsDir: globals().syncsDir, state: globals().state, logFormat: globals().logFormat, ...opts }));
    });

  program
    .command('schedule')
    .description('stay up and run each sync in --syncs-dir on its schedule; SIGTERM stops cleanly')
    .option('--parallel <n>', 'run up to n syncs at once (default 4)', positiveInteger)
    .action(async (opts: { parallel?: number }) => {
      setExit(await scheduleCommand({ syncsDir: globals().syncsDir, state: globals().state, logFormat: globals().logFormat, parallel: opts.parallel }));
    });

  program
    .command('status')
    .description('checkpoints, recent runs and the last run\'s rejects')
    .argument('[sync]', 'sync name (default: all in the state store)')
    .option('--json', 'machine-readable output')
    .option('--rejects <n|all>', `how many of the last run's rejects to list (default ${DEFAULT_REJECTS_SHOWN})`, rejectsToList)
    .addOption(new Option('--stage <stage>', 'only the rejects of this stage').choices(['local', 'pinterest']))
    .action(async (sync: string | undefined, opts: { json?: boolean; rejects?: number | 'all'; stage?: 'local' | 'pinterest' }) => {
      setExit(await statusCommand(sync, { syncsDir: globals().syncsDir, state: globals().state, ...opts }));
    });

  program
    .command('reset')
    .description('clear a sync\'s checkpoint, or move it with --to')
    .argument('<sync>', 'sync file or name')
    .option('--to <value>', 'the next run reads rows whose cursor (or primary key, without a cursor) is after this value')
    .action(async (sync: string, opts: { to?: string }) => {
      setExit(await resetCommand(sync, { syncsDir: globals().syncsDir, state: globals().state, to: opts.to }));
    });

  program
    .command('schema')
    .description('print the JSON Schema of the sync file, for editors')
    .action(() => setExit(schemaCommand()));

  return program;
}

export async function main(argv: string[]): Promise<ExitCode> {
  let exitCode: ExitCode = ExitCode.success;
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

/** Prints what went wrong, once, and returns the exit code for it. */
export function reportError(error: unknown): ExitCode {
  if (error instanceof CommanderError) {
    // Help and version are not errors; commander has printed the usage problem already.
    return error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? ExitCode.success : ExitCode.invalid;
  }
  if (error instanceof ConfigError) {
    for (const problem of error.problems) process.stderr.write(`${formatProblem(problem)}\n`);
    return error.exitCode;
  }
  if (error instanceof PinsyncError) {
    process.stderr.write(`pinsync: ${redact(error.message)}\n`);
    return error.exitCode;
  }
  // Anything else is a bug in pinsync: one line that says so and how to report it.
  const message = redact(error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ');
  process.stderr.write(
    `pinsync: internal error: ${message} (a bug in pinsync, exit ${ExitCode.failed}: please report it on pinsync's issue tracker with this line and the stack trace that PINSYNC_DEBUG=1 prints)\n`,
  );
  if (process.env.PINSYNC_DEBUG && error instanceof Error) process.stderr.write(`${redact(error.stack ?? '')}\n`);
  return ExitCode.failed;
}
