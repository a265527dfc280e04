// Normalization vectors by class: spellings other projects' test vectors use (Pinterest's plugin,
// Segment, RudderStack, Meta's SDKs, Google's rules), generated as classes rather than listed one
// by one. Phone numbers are checked against libphonenumber read straight from its "+<cc><number>"
// form, so every spelling of one number must give one answer.
import { createRequire } from 'node:module';
import * as library from 'libphonenumber-js';
import type { CountryCode } from 'libphonenumber-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isNanpRegion, NORMALIZERS, nanpFastPath, phoneByLibrary, withPlusPrefix } from '../../src/mapping/normalize.js';

const require = createRequire(import.meta.url);
const norm = (key: keyof typeof NORMALIZERS, value: unknown, defaultCountry: string | undefined = 'US') =>
  NORMALIZERS[key](value, { defaultCountry });

describe('zp: separators inside a postal code', () => {
  // US ZIP+4 in any spacing, and five digits with stray punctuation: the first five digits.
  const zips = ['98121', '02134', '10001'];
  const plusFour = ['9431', '0001'];
  const spacedZips = zips.flatMap((zip) => [
    `${zip}-`, `-${zip}`, ` ${zip}.`, `${zip.slice(0, 2)} ${zip.slice(2)}`, `${zip.slice(0, 3)}-${zip.slice(3)}`,
    ...plusFour.flatMap((four) => [
      `${zip}-${four}`, `${zip} ${four}`, `${zip}${four}`, `${zip} - ${four}`, `${zip}–${four}`, `${zip}\u2011${four}`,
      `${zip.slice(0, 2)} ${zip.slice(2)}-${four}`, `${zip}-${four.slice(0, 2)} ${four.slice(2)}`, `${zip}.${four}`, `${zip}_${four}`,
    ]),
  ]);
  it.each(spacedZips)('%j is its first five digits', (input) => {
    expect(norm('zp', input)).toBe(zips.find((zip) => input.replace(/\D/g, '').startsWith(zip)));
  });

  // Elsewhere: lowercase, with spaces, hyphens and other separators removed.
  it.each([
    ['SW1A 1AA', 'sw1a1aa'], ['SW1A-1AA', 'sw1a1aa'], ['sw1a  1aa', 'sw1a1aa'], [' EC1A.1BB ', 'ec1a1bb'],
    ['M5V 2T6', 'm5v2t6'], ['M5V-2T6', 'm5v2t6'], ['H0H\u00a00H0', 'h0h0h0'],
    ['01310-100', '01310100'], ['100-0001', '1000001'], ['D02 X285', 'd02x285'], ['75 008', '75008'], ['1010 AB', '1010ab'],
  ])('%j -> %s', (input, expected) => expect(norm('zp', input)).toBe(expected));

  it.each([['!!'], ['-'], ['1'], ['abcdefghijk'], ['12345678901'], ['Zürich']])('rejects %j', (input) => expect(norm('zp', input)).toBeUndefined());
});

describe('st and country: codes written with dots or spaces', () => {
  const codes = ['NY', 'CA', 'DC', 'NJ', 'WV', 'QC', 'ON'];
  const spellings = (code: string) => {
    const [a, b] = [code[0]!, code[1]!];
    return [`${a}.${b}.`, `${a}. ${b}.`, `${a}.${b}`, `${a} ${b}`, `${a}-${b}`, `${a.toLowerCase()} ${b.toLowerCase()}`, `${a.toLowerCase()}.${b.toLowerCase()}.`, ` ${code}. `];
  };
  it.each(codes.flatMap((code) => spellings(code).map((spelling) => [spelling, code.toLowerCase()])))('st %j -> %s', (input, expected) => {
    expect(norm('st', input)).toBe(expected);
  });

  // Newspaper abbreviations, the other dotted way to write a state.
  it.each([
    ['Calif.', 'ca'], ['Mass.', 'ma'], ['W.Va.', 'wv'], ['W. Va.', 'wv'], ['Pa.', 'pa'], ['Tenn.', 'tn'], ['Wash.', 'wa'], ['Ont.', 'on'], ['P.E.I.', 'pe'],
  ])('st %j -> %s', (input, expected) => expect(norm('st', input)).toBe(expected));

  it.each([['N/A'], ['n.a.'], ['X.X.'], ['N.Y.C.']])('st rejects %j', (input) => expect(norm('st', input)).toBeUndefined());

  it.each([
    ['U.S.A.', 'us'], ['u s a', 'us'], ['U. S. A.', 'us'], ['U.S.', 'us'], ['u.s', 'us'], ['U.K.', 'gb'], ['G.B.', 'gb'],
    ['U.A.E.', 'ae'], ['N.Z.', 'nz'], ['D.E.', 'de'], ['f r', 'fr'],
  ])('country %j -> %s', (input, expected) => expect(norm('country', input)).toBe(expected));
});

describe('ph: international prefixes and trunk prefixes', () => {
  it('knows the North American regions as libphonenumber does', () => {
    for (const region of library.getCountries()) {
      expect(isNanpRegion(region), region).toBe(library.getCountryCallingCode(region) === '1');
    }
  });

  it.each([
    // "+", "00", "+00", "011" (from North America), with separators and extra spaces.
    ['00 44 20 7946 0958', 'US', '442079460958'],
    ['00  44  20 7946 0958', 'US', '442079460958'],
    ['+00 44 20 7946 0958', 'US', '442079460958'],
    ['+0044 20 7946 0958', 'DE', '442079460958'],
    ['(00 44) 20 7946 0958', 'US', '442079460958'],
    ['011 44 20 7946 0958', 'US', '442079460958'],
    ['011-44-20-7946-0958', 'CA', '442079460958'],
    ['011.33.1.23.45.67.89', 'US', '33123456789'],
    ['+011 44 20 7946 0958', 'US', '442079460958'],
    ['00 1 (650) 123-4567', 'GB', '16501234567'],
    ['+ 1 650 123 4567', undefined, '16501234567'],
    // A national North American number with and without the trunk prefix 1, and with +1: one answer.
    ['1(650)123-4567', 'US', '16501234567'],
    ['1 (650) 123-4567', 'US', '16501234567'],
    ['(650) 123-4567', 'US', '16501234567'],
    ['+1 (650) 123-4567', 'US', '16501234567'],
    ['1.650.123.4567', 'CA', '16501234567'],
    // "011" begins national numbers outside North America (0118 is Reading).
    ['0118 496 0000', 'GB', '441184960000'],
  ])('%j with default_country %s -> %s', (input, country, expected) => expect(norm('ph', input, country)).toBe(expected));

  // No North American area code starts 0 or 1: written with +1 or without, such digits are
  // no number (most often another country's national number read with a US default).
  it.each([
    ['01 23 45 67 89', 'US'], ['(012) 345-6789', 'US'], ['1 012 345 6789', 'US'], ['+1 012 345 6789', 'US'], ['+1 (012) 345-6789', undefined],
    ['123 456 7890', 'US'], ['1 123 456 7890', 'CA'], ['+1 123 456 7890', 'GB'], ['020 7946 0958', 'US'], ['030 1234567', 'CA'],
  ])('%j with default_country %s is no number', (input, country) => expect(norm('ph', input, country)).toBeUndefined());

  // Every spelling of a number gives what libphonenumber reads from "+<country code><number>".
  const regions = ['US', 'CA', 'JM', 'PR', 'GB', 'DE', 'FR', 'ES', 'IT', 'NL', 'AU', 'IN', 'JP', 'BR'] as CountryCode[];
  const examples = require('libphonenumber-js/mobile/examples') as Record<string, string>;
  const numbers: { region: CountryCode; national: string }[] = [
    ...regions.map((region) => ({ region, national: examples[region]! })),
    // North American numbers whose exchange starts 0 or 1: possible, not valid.
    ...['6501234567', '2120550101', '4155550132', '8765550199', '4161234567', '8005550199'].map((national) => ({ region: 'US' as CountryCode, national })),
    { region: 'GB', national: '2079460958' }, { region: 'DE', national: '301234567' },
  ];
  const separators = [' ', '-', '.', '', '  ', ' - ', '/'];
  const joiners = ['', ' ', '-', '.'];
  const groupsOf = (formatted: string) => formatted.split(/[^\d]+/).filter((group) => group !== '');
  const bodies = (groups: string[]) => [
    ...separators.map((sep) => groups.join(sep)),
    groups.length > 1 ? `(${groups[0]}) ${groups.slice(1).join('-')}` : groups.join(''),
    groups.length > 1 ? `(${groups[0]})${groups.slice(1).join('')}` : groups.join(''),
  ];
  const internationalPrefixes = (cc: string) => [
    `+${cc}`, `+ ${cc}`, `00${cc}`, `00 ${cc}`, `00  ${cc}`, `+00 ${cc}`, `+00${cc}`, `(+${cc})`, `+(${cc})`, `(00 ${cc})`, `+011 ${cc}`,
  ];
  const nanpPrefixes = (cc: string) => [`011${cc}`, `011 ${cc}`, `011-${cc}`, `011.${cc}`, `(011) ${cc}`];
  const contexts = ['US', 'CA', 'JM', 'GB', 'DE', 'FR', undefined];

  const cases: { text: string; country: string | undefined; expected: string | undefined }[] = [];
  for (const { region, national } of numbers) {
    const parsed = library.parsePhoneNumberFromString(national, region)!;
    const cc = parsed.countryCallingCode;
    const plain = library.parsePhoneNumberFromString(`+${cc}${parsed.nationalNumber}`);
    const expected = plain?.isPossible() ? plain.number.slice(1) : undefined;
    const international = groupsOf(parsed.formatInternational()).slice(1);
    for (const country of contexts) {
      const prefixes = [...internationalPrefixes(cc), ...(isNanpRegion(country) ? nanpPrefixes(cc) : [])];
      for (const prefix of prefixes) {
        for (const joiner of joiners) for (const body of bodies(international)) cases.push({ text: `${prefix}${joiner}${body}`, country, expected });
      }
    }
    // Written nationally, read with the number's own region (and any North American one for +1).
    const nationalGroups = groupsOf(parsed.formatNational());
    const readers = cc === '1' ? ['US', 'CA', 'JM', 'PR'] : [region];
    for (const country of readers) {
      for (const body of bodies(nationalGroups)) {
        cases.push({ text: body, country, expected });
        if (cc === '1') for (const trunk of ['1', '1 ', '1-', '1.', '1(', '(1) ']) cases.push({ text: `${trunk}${body}`, country, expected });
      }
    }
  }

  it('gives every spelling of a number the same digits: national, trunk prefix 1, +, 00, +00, 011', () => {
    expect(cases.length).toBeGreaterThan(5000);
    const wrong = cases.filter(({ text, country, expected }) => norm('ph', text, country) !== expected);
    expect(wrong.slice(0, 20)).toEqual([]);
  });

  it('answers in its fast path exactly as libphonenumber does (area codes 2-9 in North America)', () => {
    let decided = 0;
    const wrong: unknown[] = [];
    const spellings = [
      ...cases,
      // Every number written nationally, read with every default (North American or not).
      ...numbers.flatMap(({ region, national }) => {
        const groups = groupsOf(library.parsePhoneNumberFromString(national, region)!.formatNational());
        return bodies(groups).flatMap((text) => contexts.map((country) => ({ text, country, expected: undefined })));
      }),
      // Area codes and lengths at the fast path's edges.
      ...['123 456 7890', '1 123 456 7890', '+1 123 456 7890', '011 234 5678', '+1 011 234 5678', '0650 123 4567', '1 650 123 456',
        '+1 (0) 650 123 4567', '+1 650 123 45678', '650 123 45678', '(212) 555-01', '1 1 650 123 4567', '+1 1 650 123 4567',
        '0123456789', '+1 012 345 6789', '1 (012) 345 6789', '02079460958', '12 3456 7890 1', '(11) 91234-5678', '090-1234-5678'].flatMap((text) =>
        contexts.map((country) => ({ text, country, expected: undefined }))),
    ];
    for (const { text, country } of spellings) {
      const international = withPlusPrefix(text, country);
      const fast = nanpFastPath(international, country?.toLowerCase());
      if (fast === null) continue;
      decided++;
      const slow = phoneByLibrary(international, country);
      if (fast !== slow) wrong.push({ text, country, fast, slow });
    }
    expect(wrong.slice(0, 20)).toEqual([]);
    // The fast path takes the North American spellings, not nothing.
    expect(decided).toBeGreaterThan(1000);
  });
});

describe('db: the current year', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.resetModules();
  });

  it('takes dates of a year that began after the process started', async () => {
    // A `schedule` process that loaded the module on New Year's Eve, still running after midnight.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2040-12-31T23:59:00Z'));
    vi.resetModules();
    const { NORMALIZERS: fresh } = await import('../../src/mapping/normalize.js');
    const db = (value: unknown) => fresh.db(value, {});
    expect(db('1990-03-05')).toBe('19900305');
    expect(db('2040-12-31')).toBe('20401231');
    expect(db('2041-01-01')).toBeUndefined();
    vi.setSystemTime(new Date('2041-01-01T00:01:00Z'));
    expect(db('2041-01-01')).toBe('20410101');
    expect(db(new Date(Date.UTC(2041, 0, 1)))).toBe('20410101');
    expect(db('2042-01-01')).toBeUndefined();
  });
});
