// libphonenumber-js reuses its compiled metadata patterns (src/patches/libphonenumber-patterns.ts):
// every answer must be what the library gives without that, and a helper of another shape
// must be left as it is.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { loadPhoneNumbers } from '../../src/mapping/normalize.js';
import { applyPatches } from '../../src/patches/index.js';
import { cacheLibphonenumberPatterns, libphonenumberHelper, libphonenumberPatternsCached } from '../../src/patches/libphonenumber-patterns.js';

const require = createRequire(import.meta.url);
const examples = require('libphonenumber-js/mobile/examples') as Record<string, string>;

// Each country's example mobile number written nationally, internationally, one digit short
// and one digit long; answered as parsed, possible and valid, for that country.
function answers(library: typeof import('libphonenumber-js'), numbers: Record<string, string>) {
  const cases = Object.entries(numbers).flatMap(([country, national]) => {
    const code = library.getCountryCallingCode(country as never);
    return [national, `+${code} ${national}`, national.slice(0, -1), `${national}9`].map((text) => [text, country]);
  });
  return cases.map(([text, country]) => {
    const parsed = library.parsePhoneNumberFromString(text!, { defaultCountry: country as never });
    return [text, country, parsed?.number ?? null, parsed?.isPossible() ?? null, parsed?.isValid() ?? null, parsed?.getType() ?? null];
  });
}

describe('libphonenumber with its patterns compiled once', () => {
  it('fits the installed libphonenumber-js: a copy of its helper is replaced, and so is the helper once patches apply', () => {
    const stock = libphonenumberHelper()!.default as (text: string, pattern: string) => boolean;
    expect(libphonenumberPatternsCached()).toBe(false);
    const copy = { default: stock };
    expect(cacheLibphonenumberPatterns(() => copy)).toBe(true);
    expect(copy.default).not.toBe(stock);
    expect(applyPatches().libphonenumberPatterns).toBe(true);
    expect(libphonenumberPatternsCached()).toBe(true);
  });

  it('answers every country\'s numbers exactly as the library alone does', () => {
    applyPatches();
    expect(libphonenumberPatternsCached()).toBe(true);
    const library = loadPhoneNumbers();
    const ours = answers(library, examples);
    // The library alone, in a process of its own.
    const script = `const library = require('libphonenumber-js'); const examples = require('libphonenumber-js/mobile/examples');
      process.stdout.write(JSON.stringify((${answers.toString()})(library, examples)));`;
    const root = new URL('../..', import.meta.url);
    const alone = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: root })) as unknown[];
    expect(ours).toHaveLength(4 * Object.keys(examples).length);
    expect(ours.filter((a) => a[4] === true).length).toBeGreaterThan(200);
    expect(ours).toEqual(alone);
  });

  it('leaves the library as it is when its helper is missing or is not the function it replaces', () => {
    expect(cacheLibphonenumberPatterns(() => undefined)).toBe(false);
    expect(cacheLibphonenumberPatterns(() => ({}))).toBe(false);
    const shapes = [
      // Flags: a cached RegExp with /g or /y would keep state between calls.
      function matchesEntirely(text: string, pattern: string) { text = text || ''; return new RegExp('^(?:' + pattern + ')$', 'i').test(text); },
      // Another argument, or another body.
      function matchesEntirely2(text: string, pattern: string, flags: string) { return new RegExp(pattern, flags).test(text); },
      (text: string, pattern: string) => new RegExp(pattern).test(text),
    ];
    for (const shape of shapes) {
      const helper = { default: shape };
      expect(cacheLibphonenumberPatterns(() => helper)).toBe(false);
      expect(helper.default).toBe(shape);
      expect(libphonenumberPatternsCached(() => helper)).toBe(false);
    }
  });
});
