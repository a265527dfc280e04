// Errors raised on the reading thread reach the CLI as the same class, with the same exit code
// and message: they cross the thread as data (structured clone would keep only Error's fields).
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  AuthError, ConfigError, LockedError, PinsyncError, RefusedQueryError, RetriesExhaustedError, SourceError, StateError, UsageError,
} from '../../src/core/errors.js';
import { fromThreadError, toThreadError } from '../../src/engine/thread-errors.js';

/** Through a real message port, as between the threads. */
function across(error: unknown): Error {
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(toThreadError(error));
  const received = receiveMessageOnPort(port2)!.message as Parameters<typeof fromThreadError>[0];
  port1.close();
  return fromThreadError(received);
}

describe('errors from the reading thread', () => {
  const classes = [UsageError, SourceError, RefusedQueryError, AuthError, RetriesExhaustedError, StateError, LockedError];
  it.each(classes.map((c) => [c.name, c] as const))('%s keeps its class, exit code and message', (_, ErrorClass) => {
    const original = new ErrorClass('the warehouse said no');
    const back = across(original);
    expect(back).toBeInstanceOf(ErrorClass);
    expect(back).toBeInstanceOf(PinsyncError);
    expect((back as PinsyncError).exitCode).toBe(original.exitCode);
    expect(back.message).toBe('the warehouse said no');
    expect(back.name).toBe(original.name);
  });

  it('a ConfigError keeps its problems (file:line:col) and exit code 2', () => {
    const problem = { file: 'orders.yaml', line: 3, col: 5, path: 'source.query', message: 'the query tries to write' };
    const back = across(new ConfigError([problem], 'orders.yaml:3:5 source.query: the query tries to write'));
    expect(back).toBeInstanceOf(ConfigError);
    expect((back as ConfigError).exitCode).toBe(2);
    expect((back as ConfigError).problems).toEqual([problem]);
    expect(back.message).toBe('orders.yaml:3:5 source.query: the query tries to write');
  });

  it('any other error stays an internal error (exit 1), with its message', () => {
    const back = across(new TypeError('x is not a function'));
    expect(back).not.toBeInstanceOf(PinsyncError);
    expect(back.name).toBe('TypeError');
    expect(back.message).toBe('x is not a function');
    expect(across('a thrown string').message).toBe('a thrown string');
  });
});
