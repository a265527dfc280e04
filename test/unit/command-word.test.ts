// The command word is read before commander loads, so the early reading thread starts for
// `run` only: the hand-kept list of valued global options must match the program's.
import { describe, expect, it } from 'vitest';
import { commandOf, VALUED_GLOBAL_OPTIONS } from '../../src/cli/command-word.js';
import { buildProgram } from '../../src/cli/main.js';

describe('commandOf', () => {
  it('knows every global option that takes a value', () => {
    const valued = buildProgram(() => undefined).options.filter((o) => o.required || o.optional).map((o) => o.long);
    expect([...VALUED_GLOBAL_OPTIONS].sort()).toEqual(valued.sort());
  });

  it('skips options and their values, and finds no command in options alone', () => {
    expect(commandOf(['run', 'orders'])).toBe('run');
    expect(commandOf(['--state', 'run', 'preview', 'run'])).toBe('preview');
    expect(commandOf(['--log-format', 'json', '--syncs-dir', 'x', 'run'])).toBe('run');
    expect(commandOf(['--state=run', 'status'])).toBe('status');
    expect(commandOf(['--version'])).toBeUndefined();
  });
});
