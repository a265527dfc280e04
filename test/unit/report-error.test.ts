// What the CLI prints, and exits with, for each kind of error: an unexpected one is a bug, said
// in one line that tells how to report it.
import { CommanderError } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { reportError } from '../../src/cli/main.js';
import { ConfigError, LockedError, SourceError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/types.js';

function printed(error: unknown): { code: ExitCode; text: string } {
  let text = '';
  const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    text += String(chunk);
    return true;
  });
  try {
    return { code: reportError(error), text };
  } finally {
    write.mockRestore();
  }
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('reportError', () => {
  it('reports a bug in one line that says how to report it, without the stack', () => {
    vi.stubEnv('PINSYNC_DEBUG', '');
    const { code, text } = printed(new TypeError('cannot read properties of undefined\n(reading x)'));
    expect(code).toBe(1);
    expect(text).toBe(
      "pinsync: internal error: cannot read properties of undefined (reading x) (a bug in pinsync, exit 1: please report it on pinsync's issue tracker with this line and the stack trace that PINSYNC_DEBUG=1 prints)\n",
    );
  });

  it('adds the stack, redacted, with PINSYNC_DEBUG=1', () => {
    vi.stubEnv('PINSYNC_DEBUG', '1');
    const error = new Error('boom at postgres://user:hunter22@db/x');
    const { code, text } = printed(error);
    expect(code).toBe(1);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^pinsync: internal error: boom at postgres:\/\/user:\*\*\*@db\/x \(a bug in pinsync/);
    expect(lines[1]).toBe('Error: boom at postgres://user:***@db/x');
    expect(lines.length).toBe(error.stack!.split('\n').length + 1);
    expect(text).not.toContain('hunter22');
  });

  it('gives each known error its own exit code and no bug report', () => {
    expect(printed(new SourceError('no such table'))).toEqual({ code: ExitCode.failed, text: 'pinsync: no such table\n' });
    expect(printed(new LockedError('locked by another run'))).toEqual({ code: ExitCode.locked, text: 'pinsync: locked by another run\n' });
    expect(printed(new ConfigError([{ file: 'a.yaml', line: 2, col: 3, path: 'source', message: 'bad' }]))).toEqual({ code: ExitCode.invalid, text: 'a.yaml:2:3: source: bad\n' });
    expect(printed(new CommanderError(1, 'commander.unknownOption', 'unknown option'))).toEqual({ code: ExitCode.invalid, text: '' });
    expect(printed(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'))).toEqual({ code: ExitCode.success, text: '' });
  });
});
