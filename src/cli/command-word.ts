// Which command a command line runs, read before commander (and the rest of the CLI) loads:
// `run` starts its reading thread first (see index.ts).

/** The program's global options that take a value; a test checks this against main.ts. */
export const VALUED_GLOBAL_OPTIONS: readonly string[] = ['--syncs-dir', '--state', '--log-format'];

/** The command word: the first argument that is not an option or an option's value. */
export function commandOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (VALUED_GLOBAL_OPTIONS.includes(args[i]!)) i++;
    else if (!args[i]!.startsWith('-')) return args[i];
  }
  return undefined;
}
