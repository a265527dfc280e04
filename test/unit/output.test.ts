import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { lineWriter } from '../../src/cli/output.js';

describe('lineWriter', () => {
  it('waits for the reader when the stream buffer is full, so output never piles up in memory', async () => {
    const written: string[] = [];
    let release: (() => void) | undefined;
    const slow = new Writable({
      highWaterMark: 8,
      write(chunk, _encoding, done) {
        written.push(String(chunk));
        release = done;
      },
    });
    const write = lineWriter(slow);
    const first = write('a line longer than the buffer');
    expect(first).toBeInstanceOf(Promise);
    let resolved = false;
    void (first as Promise<void>).then(() => (resolved = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(resolved).toBe(false);
    release!();
    await first;
    expect(resolved).toBe(true);
    expect(written).toEqual(['a line longer than the buffer\n']);
  });

  it('returns at once while there is room', () => {
    const sink = new Writable({ highWaterMark: 1024, write: (_c, _e, done) => done() });
    expect(lineWriter(sink)('short')).toBeUndefined();
  });
});
