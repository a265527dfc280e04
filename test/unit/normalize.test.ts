import { createHash } from 'node:crypto';
import { getCountries } from 'libphonenumber-js';
import { describe, expect, it } from 'vitest';
import { isCountryCode } from '../../src/core/countries.js';
import { NORMALIZERS, WARM_UP_SAMPLES, warmUpNormalizers } from '../../src/mapping/normalize.js';
import { sha256Hex } from '../../src/mapping/hash.js';
import { mapperFrom, NOW, withLines } from '../helpers/sync.js';

const us = { defaultCountry: 'US' };
const norm = (key: keyof typeof NORMALIZERS, value: unknown, ctx: object = us) => NORMALIZERS[key](value, ctx);
const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

describe('sha256Hex', () => {
  it('matches independently computed digests', () => {
    // Digests computed outside Node (Python hashlib) for the normalized forms.
    expect(sha256Hex('alice.smith@example.com')).toBe('7dcd3a39ad3a8d2145645ec612ed4f6fa3f297b47bdcf7e0aeb76040f5e24e89');
    expect(sha256Hex('14155550132')).toBe('11072303eb5c8cb5c5a1ebb762f11b37b07131265b46fdfe1276196bfbd3ca51');
    expect(sha256Hex('zoë')).toBe('2752b88686847fa5c86f47b94ce652b7b3f22a91c37617d451a4db9afa431450');
  });
});

describe('em', () => {
  it.each([
    ['  Alice.Smith@Example.COM ', 'alice.smith@example.com'],
    ['BOB@EXAMPLE.ORG', 'bob@example.org'],
    ['\tzoe+tag@example.net\n', 'zoe+tag@example.net'],
    // Whitespace at one end only, and whitespace outside ASCII (no-break space, BOM, ideographic space).
    ['carol@example.com ', 'carol@example.com'],
    ['\u00a0dave@example.com', 'dave@example.com'],
    ['erin@example.com\ufeff', 'erin@example.com'],
    ['\u3000frank@example.com\u2028', 'frank@example.com'],
  ])('%j -> %s', (input, expected) => expect(norm('em', input)).toBe(expected));
  it.each([[''], ['   '], [null], ['not-an-email'], ['a@'], [42]])('rejects %j', (input) => expect(norm('em', input)).toBeUndefined());
});

describe('ph', () => {
  it.each([
    ['(415) 555-0132', us, '14155550132'],
    ['415.555.0132', us, '14155550132'],
    ['+1 415 555 0132', us, '14155550132'],
    ['1-415-555-0132', us, '14155550132'],
    ['4155550132', us, '14155550132'],
    [4155550132, us, '14155550132'],
    ['+14155550132', {}, '14155550132'],
    ['+44 20 7946 0958', us, '442079460958'],
    ['0044 20 7946 0958', us, '442079460958'],
    ['020 7946 0958', { defaultCountry: 'GB' }, '442079460958'],
    // Trunk zeros written after the country code are not part of the number.
    ['+44 020 7946 0958', us, '442079460958'],
    ['+44 (0)20 7946 0958', us, '442079460958'],
    ['+49 030 1234567', us, '49301234567'],
    ['+33 01 23 45 67 89', us, '33123456789'],
    ['+1 (415) 555-0132', {}, '14155550132'],
    ['030 1234567', { defaultCountry: 'DE' }, '49301234567'],
    // The row's own country beats the sync's default for national numbers.
    ['020 7946 0958', { defaultCountry: 'US', rowCountry: () => 'gb' }, '442079460958'],
  ])('%j with %j -> %s', (input, ctx, expected) => expect(norm('ph', input, ctx)).toBe(expected));
  it.each([['ask at desk'], ['12'], [''], [null], ['+12345678'], ['020 7946 0958']])('rejects %j', (input) => expect(norm('ph', input)).toBeUndefined());
  it('needs a country for national numbers', () => expect(norm('ph', '(415) 555-0132', {})).toBeUndefined());
});

describe('ge', () => {
  it.each([
    ['Female', 'f'], ['F', 'f'], [' woman ', 'f'], ['Male', 'm'], ['m', 'm'], ['MAN', 'm'],
    ['non-binary', 'n'], ['Nonbinary', 'n'], ['N', 'n'],
  ])('%j -> %s', (input, expected) => expect(norm('ge', input)).toBe(expected));
  it.each([['unknown'], [''], ['prefer not to say']])('rejects %j', (input) => expect(norm('ge', input)).toBeUndefined());
});

describe('db', () => {
  it.each([
    ['1990-03-05', '19900305'],
    ['1990/3/5', '19900305'],
    ['19900305', '19900305'],
    ['03/05/1990', '19900305'],
    ['25/12/1990', '19901225'],
    ['05.03.1990', '19900305'],
    ['1990-03-05T00:00:00Z', '19900305'],
    ['March 5, 1990', '19900305'],
    [new Date(Date.UTC(1990, 2, 5)), '19900305'],
  ])('%j -> %s', (input, expected) => expect(norm('db', input)).toBe(expected));
  it.each([['1990-02-30'], ['13/13/1990'], ['1850-01-01'], ['yesterday'], [''], ['199012'], ['1990112'], ['March 1990'], ['Spring 1990'], ['Feb 29 1990']])(
    'rejects %j', (input) => expect(norm('db', input)).toBeUndefined(),
  );
});

describe('names and places', () => {
  it('takes as country codes exactly the regions libphonenumber knows, less its two that are not ISO, plus the uninhabited ones', () => {
    const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
    const regions = new Set<string>(getCountries());
    for (const a of letters) {
      for (const b of letters) {
        const code = a + b;
        const expected = (regions.has(code) && code !== 'AC' && code !== 'TA') || ['AQ', 'BV', 'GS', 'HM', 'PN', 'TF', 'UM'].includes(code);
        expect(isCountryCode(code), code).toBe(expected);
      }
    }
  });

  it.each([
    ['fn', '  Alice ', 'alice'],
    ['fn', 'ZOË', 'zoë'],
    // Decomposed input (e + combining diaeresis) is composed (NFC) before hashing.
    ['fn', 'Zoe\u0308', 'zo\u00eb'],
    ['ln', "O'Brien", "o'brien"],
    ['ct', 'San Francisco', 'sanfrancisco'],
    ['ct', ' St. Louis ', 'stlouis'],
    ['ct', 'Saint-Étienne', 'saintétienne'],
    ['st', 'California', 'ca'],
    ['st', 'CA', 'ca'],
    ['st', ' new york ', 'ny'],
    ['st', 'District of Columbia', 'dc'],
    ['st', 'Ontario', 'on'],
    ['zp', '94107-1234', '94107'],
    ['zp', '94107 1234', '94107'],
    ['zp', '941071234', '94107'],
    ['zp', '10001', '10001'],
    ['zp', 'SW1A 1AA', 'sw1a1aa'],
    ['zp', 'M5V 2T6', 'm5v2t6'],
    // A numeric column drops a ZIP code's leading zero.
    ['zp', 2134, '02134'],
    ['country', 'Bosnia and Herzegovina', 'ba'],
    ['country', 'Hong Kong', 'hk'],
    ['country', 'Korea, Republic of', 'kr'],
    ['country', 'Saint Kitts and Nevis', 'kn'],
    ['country', 'Moldova, Republic of', 'md'],
    ['country', 'United States', 'us'],
    ['country', 'USA', 'us'],
    ['country', 'U.S.A.', 'us'],
    ['country', 'us', 'us'],
    ['country', 'United Kingdom', 'gb'],
    ['country', 'UK', 'gb'],
    ['country', 'Deutschland', 'de'],
    ['country', 'Germany', 'de'],
    // Names in the other languages, looked up after English.
    ['country', 'Allemagne', 'de'],
    ['country', 'Spanien', 'es'],
    ['country', 'Paesi Bassi', 'nl'],
    ['country', 'Países Bajos', 'nl'],
    ['country', 'Côte d’Ivoire', 'ci'],
    ['country', 'FR', 'fr'],
    ['external_id', '  CUST-00042 ', 'cust-00042'],
    ['hashed_maids', '6D92078A-8246-4BA4-AE5B-76104861E7DC', '6d92078a-8246-4ba4-ae5b-76104861e7dc'],
  ] as const)('%s %j -> %s', (key, input, expected) => expect(norm(key, input)).toBe(expected));
  it.each([
    ['st', 'Atlantis'], ['country', 'Narnia'], ['country', 'DD'], ['zp', '!!'], ['ct', ' . '],
  ] as const)('%s rejects %j', (key, input) => expect(norm(key, input)).toBeUndefined());
});

describe('plain keys', () => {
  it.each([
    ['client_ip_address', ' 192.0.2.10 ', '192.0.2.10'],
    ['client_ip_address', '2001:db8::1', '2001:db8::1'],
    ['client_user_agent', 'Mozilla/5.0 (X11)', 'Mozilla/5.0 (X11)'],
    ['click_id', 'dj0yJnU9', 'dj0yJnU9'],
    ['partner_id', 'RAMP-1', 'RAMP-1'],
  ] as const)('%s %j -> %s', (key, input, expected) => expect(norm(key, input)).toBe(expected));
  it('rejects an address that is not an IP', () => expect(norm('client_ip_address', '999.1.1.1')).toBeUndefined());
});

describe('warm-up samples', () => {
  it('are each accepted by their normalizer, so warming up reaches the tables a first page would build', () => {
    const entries = Object.entries(WARM_UP_SAMPLES) as [keyof typeof NORMALIZERS, readonly string[]][];
    expect(entries.map(([key]) => key)).toEqual(expect.arrayContaining(['em', 'ph', 'country']));
    expect(Object.fromEntries(entries.map(([key, samples]) => [key, samples.map((sample) => norm(key, sample))]))).toEqual({
      em: ['someone@example.com'], ph: ['14155550101', '442079460958'], ge: ['f'], db: ['19900131'], ct: ['sanfrancisco'],
      st: ['ca'], zp: ['94105'], country: ['us'], client_ip_address: ['192.0.2.1'],
    });
    expect(warmUpNormalizers()).toBeUndefined();
  });
});

describe('hashing in events', () => {
  const mapper = mapperFrom(withLines({
    match: ['ph: phone', 'fn: first_name', 'ge: gender', 'db: birthday', 'country: country', 'external_id: [crm_id, loyalty_id]', 'client_ip_address: ip', 'client_user_agent: ua'],
    options: ['default_country: US'],
  }));
  const row = {
    order_id: 'o-1', completed_at: new Date(NOW - 3600_000), email: ' Alice.Smith@Example.COM ', phone: '(415) 555-0132',
    first_name: 'Zoe\u0308', gender: 'Female', birthday: '03/05/1990', country: 'United States', crm_id: 'CUST-1', loyalty_id: 'L-9',
    ip: '192.0.2.1', ua: 'UA/1',
  };

  it('hashes each normalized identifier, and sends plain keys as they are', () => {
    const outcome = mapper.map(row);
    expect(outcome.reasons).toBeUndefined();
    expect(outcome.event!.user_data).toEqual({
      em: [sha('alice.smith@example.com')],
      ph: [sha('14155550132')],
      fn: [sha('zo\u00eb')],
      ge: [sha('f')],
      db: [sha('19900305')],
      country: [sha('us')],
      external_id: [sha('cust-1'), sha('l-9')],
      client_ip_address: '192.0.2.1',
      client_user_agent: 'UA/1',
    });
  });

  it('passes SHA-256 hex through without hashing it again, lowercased', () => {
    const hashed = sha('alice.smith@example.com');
    const outcome = mapper.map({ ...row, email: hashed.toUpperCase() });
    expect((outcome.event!.user_data as Record<string, unknown>).em).toEqual([hashed]);
  });

  it('gives one hash per value of an array column, without duplicates', () => {
    const many = mapperFrom(BASE_EMAILS);
    const outcome = many.map({ order_id: 'o-2', completed_at: new Date(NOW), email: ['a@example.com', ' A@example.com', null, '', 'b@example.com'] });
    expect((outcome.event!.user_data as Record<string, unknown>).em).toEqual([sha('a@example.com'), sha('b@example.com')]);
  });

  it('omits null and blank values instead of hashing them', () => {
    const outcome = mapper.map({ ...row, phone: null, first_name: '   ', gender: '' });
    const user = outcome.event!.user_data as Record<string, unknown>;
    expect(user).not.toHaveProperty('ph');
    expect(user).not.toHaveProperty('fn');
    expect(user).not.toHaveProperty('ge');
    expect(mapper.droppedIdentifiers.get('fn')).toBeUndefined();
  });

  it('gives repeated low-cardinality values the same digest and counts every unusable one', () => {
    const fresh = mapperFrom(withLines({ match: ['ge: gender', 'country: country'] }));
    for (const gender of ['Female', 'unknown', 'Female', 'unknown', 'male']) {
      const user = fresh.map({ ...row, gender, country: 'Narnia' }).event!.user_data as Record<string, unknown>;
      if (gender === 'unknown') expect(user).not.toHaveProperty('ge');
      else expect(user.ge).toEqual([sha(gender === 'Female' ? 'f' : 'm')]);
    }
    expect(fresh.droppedIdentifiers.get('ge')).toBe(2);
    expect(fresh.droppedIdentifiers.get('country')).toBe(5);
  });

  it("reads a national phone number with the row's own country", () => {
    const fresh = mapperFrom(withLines({ match: ['ph: phone', 'country: country'], options: ['default_country: US'] }));
    const user = fresh.map({ ...row, phone: '020 7946 0958', country: 'United Kingdom' }).event!.user_data as Record<string, unknown>;
    expect(user.ph).toEqual([sha('442079460958')]);
  });

  it('keeps remembered digests apart per key', () => {
    const fresh = mapperFrom(withLines({ match: ['ct: place', 'st: place'] }));
    for (let i = 0; i < 2; i++) {
      const user = fresh.map({ ...row, place: 'Georgia' }).event!.user_data as Record<string, unknown>;
      expect(user.ct).toEqual([sha('georgia')]);
      expect(user.st).toEqual([sha('ga')]);
    }
  });

  it('counts unusable identifier values it leaves out', () => {
    const fresh = mapperFrom(withLines({ match: ['ph: phone'], options: ['default_country: US'] }));
    const outcome = fresh.map({ ...row, phone: 'ask at desk' });
    expect(outcome.event!.user_data).not.toHaveProperty('ph');
    expect(fresh.droppedIdentifiers.get('ph')).toBe(1);
  });
});

const BASE_EMAILS = withLines({});
