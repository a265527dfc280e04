// libphonenumber-js reuses its compiled metadata patterns (src/mapping/phone-patterns.ts):
// every answer must be what the library gives without that.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { loadPhoneNumbers } from '../../src/mapping/normalize.js';
import { metadataPatternsCached } from '../../src/mapping/phone-patterns.js';

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
  it('is in place once the library is loaded', () => {
    loadPhoneNumbers();
    expect(metadataPatternsCached()).toBe(true);
  });

  it('answers every country\'s numbers exactly as the library alone does', () => {
    const library = loadPhoneNumbers();
    const ours = answers(library, examples);
    // The library alone, in a process of its own.
    const script = `const library = require('libphonenumber-js'); const examples = require('libphonenumber-js/mobile/examples');
      process.stdout.write(JSON.stringify((${answers.toString()})(library, examples)));`;
    const root = new URL('../..', import.meta.url);
    const alone = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: root })) as unknown[];
    expect(ours.length).toBeGreaterThan(800);
    expect(ours.filter((a) => a[4] === true).length).toBeGreaterThan(200);
    expect(ours).toEqual(alone);
  });
});
