// pg is loaded with a stand-in `navigator` on Node 20 (see src/sources/postgres/driver.ts):
// the stand-in must exist only while loading, and never replace a real one.
import { afterEach, describe, expect, it } from 'vitest';
import { loadWithNavigator } from '../../src/sources/postgres/driver.js';

const navigatorOf = () => (globalThis as { navigator?: { userAgent?: string } }).navigator;
const original = Object.getOwnPropertyDescriptor(globalThis, 'navigator');

afterEach(() => {
  if (original) Object.defineProperty(globalThis, 'navigator', original);
  else delete (globalThis as { navigator?: unknown }).navigator;
});

describe('loading pg', () => {
  it('answers pg\'s runtime check with a Node.js navigator while loading, and leaves none behind', () => {
    delete (globalThis as { navigator?: unknown }).navigator;
    const seen = loadWithNavigator(() => navigatorOf()?.userAgent);
    expect(seen).toMatch(/^Node\.js\/\d+$/);
    expect('navigator' in globalThis).toBe(false);
  });

  it('leaves none behind when loading fails', () => {
    delete (globalThis as { navigator?: unknown }).navigator;
    expect(() => loadWithNavigator(() => {
      throw new Error('broken install');
    })).toThrow('broken install');
    expect('navigator' in globalThis).toBe(false);
  });

  it('keeps a navigator the runtime defines', () => {
    const own = { userAgent: 'Node.js/22' };
    Object.defineProperty(globalThis, 'navigator', { value: own, configurable: true });
    expect(loadWithNavigator(() => navigatorOf())).toBe(own);
    expect(navigatorOf()).toBe(own);
  });
});
