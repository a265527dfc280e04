// Identifier normalization before hashing, per DESIGN.md section 3. Each normalizer
// takes one source value and returns the text to hash (or send, for plain keys), or
// undefined when the value cannot be a valid identifier of that kind.
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { CountryCode } from 'libphonenumber-js';
import type { UserKey } from '../core/event-schema.js';
import { scalarText } from '../core/convert.js';
import { countryCode, stateCode } from './geo.js';

export interface NormalizeContext {
  /** ISO alpha-2 country for phone numbers written without a country code. */
  defaultCountry?: string | undefined;
  /** The row's own country (from match.country), which beats the default for national numbers. */
  rowCountry?: () => string | undefined;
}

export type Normalizer = (raw: unknown, ctx: NormalizeContext) => string | undefined;

// eslint-disable-next-line no-control-regex -- all of ASCII, controls included
const ASCII = /^[\x00-\x7f]*$/;

/** Trimmed text in Unicode NFC, as Pinterest hashes it. */
export function identifierText(raw: unknown): string | undefined {
  const text = scalarText(raw);
  // Most warehouse text is ASCII already; NFC only matters otherwise.
  return text === undefined || ASCII.test(text) ? text : text.normalize('NFC');
}

const lower: Normalizer = (raw) => identifierText(raw)?.toLowerCase();

const email: Normalizer = (raw) => {
  const text = lower(raw, {});
  // Something@something: anything else cannot match a Pinterest account.
  return text && /^[^\s@]+@[^\s@]+$/.test(text) ? text : undefined;
};

// North American Numbering Plan regions: country code 1, trunk prefix "1", and "011" to dial
// out (a test checks this list against libphonenumber's metadata).
const NANP_REGIONS = new Set([
  'us', 'ca', 'ag', 'ai', 'as', 'bb', 'bm', 'bs', 'dm', 'do', 'gd', 'gu', 'jm', 'kn', 'ky', 'lc', 'mp', 'ms',
  'pr', 'sx', 'tc', 'tt', 'vc', 'vg', 'vi',
]);

/** Whether a region (ISO alpha-2, any case) dials as part of the North American Numbering Plan. */
export function isNanpRegion(country: string | undefined): boolean {
  return country !== undefined && NANP_REGIONS.has(country.toLowerCase());
}

// An international call prefix before the country code, with any separators around it: "+",
// "00" (most of the world), and the two doubled ("+00 44", "+011 44"). "011" alone is North
// America's, and only read as one there: elsewhere it starts national numbers (0118 is Reading).
const INTERNATIONAL_PREFIX = /^[\s(]*(?:\+[\s().-]*(?:011|00)?|00)[\s().-]*(?=[1-9])/;
const NANP_INTERNATIONAL_PREFIX = /^[\s(]*011[\s().-]*(?=[1-9])/;

/**
 * The number with its international prefix, however written, as one "+" right before the
 * country code: the form libphonenumber reads whatever the row's country. `country` is the
 * ISO alpha-2 code national numbers are read with.
 */
export function withPlusPrefix(text: string, country: string | undefined): string {
  const first = text.charCodeAt(0);
  // "+" or "(" then a digit other than 0, such a digit, or a trunk 0 not followed by "0" or
  // "11" ("020 …", "01 23 …"): nothing to rewrite (most numbers).
  if (first === 0x2b || first === 0x28 ? isNonZeroDigit(text.charCodeAt(1)) : isNonZeroDigit(first)) return text;
  if (first === 0x30) {
    const second = text.charCodeAt(1);
    if (second !== 0x30 && !(second === 0x31 && text.charCodeAt(2) === 0x31)) return text;
  }
  const prefix = INTERNATIONAL_PREFIX.exec(text) ?? (isNanpRegion(country) ? NANP_INTERNATIONAL_PREFIX.exec(text) : null);
  return prefix ? `+${text.slice(prefix[0].length)}` : text;
}

const isNonZeroDigit = (code: number): boolean => code > 0x30 && code <= 0x39;

// Fast path (libphonenumber costs several microseconds a number) for the shape most
// warehouses hold: North American numbers, written nationally (with or without the trunk
// prefix 1) or with +1, and the national numbers of other countries read with a North
// American default (their trunk 0 makes them no North American number). Only digits and
// separators qualify; everything else goes to libphonenumber, which knows each country's
// trunk prefixes ("+44 (0)20 …") and lengths. A test checks that the two agree on many
// generated spellings.
const SEPARATED_DIGITS = /^\+?[\d\s().-]{10,20}$/;
const SEPARATORS = /[\s().+-]/g;

/**
 * The digits of a number in the fast path's shape (`text` as withPlusPrefix leaves it),
 * undefined when it cannot be a number, or null when it takes libphonenumber to tell.
 * `country` is the lowercase ISO alpha-2 code national numbers are read with.
 */
export function nanpFastPath(text: string, country: string | undefined): string | undefined | null {
  if (!SEPARATED_DIGITS.test(text)) return null;
  if (text.charCodeAt(0) === 0x2b) {
    if (text.charCodeAt(1) !== 0x31) return null;
    const digits = text.replace(SEPARATORS, '');
    // +1, then ten digits.
    return digits.length === 11 ? nanpNumber(digits) : null;
  }
  if (country === undefined || !NANP_REGIONS.has(country)) return null;
  const digits = text.replace(SEPARATORS, '');
  if (digits.length === 10) return nanpNumber(`1${digits}`);
  if (digits.length !== 11) return null;
  // The trunk prefix 1, then ten digits; eleven digits without it are too many for any
  // North American number ("020 7946 0958" read as one).
  return digits.charCodeAt(0) === 0x31 ? nanpNumber(digits) : undefined;
}

/**
 * 1 and ten digits, if they can be a North American number: its area code starts 2-9. One
 * that starts 0 or 1 is no number in any of its regions, most often another country's
 * national number read with a North American default ("01 23 45 67 89", Paris), which
 * libphonenumber, checking lengths only, would take.
 */
const nanpNumber = (digits: string): string | undefined => (digits.charCodeAt(1) >= 0x32 ? digits : undefined);

// libphonenumber is slow to load (docs/adr/0004-cli-bundle.md): loaded when a number first needs it, or by
// loadPhoneNumbers() (a reading thread, while it waits for work). Its patterns are compiled
// once by a patch the entry points apply (src/patches/).
const require = createRequire(import.meta.url);
let phoneNumbers: typeof import('libphonenumber-js') | undefined;

/** Loads libphonenumber now (a reading thread, while it waits for work). */
export function loadPhoneNumbers(): typeof import('libphonenumber-js') {
  return (phoneNumbers ??= require('libphonenumber-js') as typeof import('libphonenumber-js'));
}

/**
 * The number's E.164 digits as libphonenumber reads it, if it could be a number there (and,
 * for a North American one, its area code starts 2-9, as the fast path requires).
 */
export function phoneByLibrary(text: string, country: string | undefined): string | undefined {
  const parsed = loadPhoneNumbers().parsePhoneNumberFromString(text, {
    defaultCountry: country?.toUpperCase() as CountryCode | undefined,
  });
  if (!parsed || !parsed.isPossible()) return undefined;
  const digits = parsed.number.slice(1);
  return parsed.countryCallingCode === '1' ? nanpNumber(digits) : digits;
}

const phone: Normalizer = (raw, ctx) => {
  const text = identifierText(raw);
  if (!text) return undefined;
  // "+1 …" never needs the row's country; looking it up costs a column read.
  const plusOne = text.charCodeAt(0) === 0x2b && text.charCodeAt(1) === 0x31;
  const country = plusOne ? undefined : (ctx.rowCountry?.() ?? ctx.defaultCountry?.toLowerCase());
  const international = plusOne ? text : withPlusPrefix(text, country);
  const fast = nanpFastPath(international, country);
  if (fast !== null) return fast;
  // (A number written with "+" is read the same with any default country.)
  return phoneByLibrary(international, country);
};

const GENDERS: Record<string, string> = {
  f: 'f', female: 'f', woman: 'f', w: 'f', girl: 'f', femme: 'f', weiblich: 'f', mujer: 'f', femenino: 'f',
  m: 'm', male: 'm', man: 'm', boy: 'm', homme: 'm', mannlich: 'm', männlich: 'm', hombre: 'm', masculino: 'm',
  n: 'n', nb: 'n', nonbinary: 'n', 'non-binary': 'n', 'non binary': 'n', enby: 'n', x: 'n',
  genderqueer: 'n', agender: 'n',
};
const gender: Normalizer = (raw) => {
  const text = lower(raw, {});
  return text === undefined ? undefined : GENDERS[text];
};

// The current year, read again once the clock passes its end (a `schedule` process runs for
// years): only a date later than the year known so far looks at the clock.
let knownYear = 0;
function isFutureYear(year: number): boolean {
  if (year <= knownYear) return false;
  knownYear = new Date().getUTCFullYear();
  return year > knownYear;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function ymd(year: number, month: number, day: number): string | undefined {
  if (year < 1900 || month < 1 || month > 12 || day < 1 || isFutureYear(year)) return undefined;
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > DAYS_IN_MONTH[month - 1]! + (leap ? 1 : 0)) return undefined;
  return `${year}${month < 10 ? '0' : ''}${month}${day < 10 ? '0' : ''}${day}`;
}

const dateOfBirth: Normalizer = (raw) => {
  if (raw instanceof Date) {
    return Number.isNaN(raw.getTime()) ? undefined : ymd(raw.getUTCFullYear(), raw.getUTCMonth() + 1, raw.getUTCDate());
  }
  const text = identifierText(raw);
  if (!text) return undefined;
  let m = /^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?:$|[T\s])/.exec(text);
  if (m) return ymd(+m[1]!, +m[3]!, +m[4]!);
  m = /^(\d{4})(\d{2})(\d{2})$/.exec(text);
  if (m) return ymd(+m[1]!, +m[2]!, +m[3]!);
  m = /^(\d{1,2})([-/.])(\d{1,2})\2(\d{4})$/.exec(text);
  if (m) {
    const [a, sep, b, year] = [+m[1]!, m[2], +m[3]!, +m[4]!];
    // Dots mean day-first (European); slashes and dashes are month-first unless that is impossible.
    const dayFirst = sep === '.' || a > 12;
    return dayFirst ? ymd(year, b, a) : ymd(year, a, b);
  }
  const day = /(?:^|\D)(\d{1,2})(?:\D|$)/.exec(text);
  if (/[a-z]/i.test(text) && day) {
    // Month names ("March 5, 1990", "5 Mar 1990"): V8 parses these as local dates. The day
    // must survive parsing, or V8 rolled an impossible date (Feb 29 1990) into the next month.
    const parsed = new Date(text);
    if (!Number.isNaN(parsed.getTime()) && parsed.getDate() === Number(day[1])) {
      return ymd(parsed.getFullYear(), parsed.getMonth() + 1, parsed.getDate());
    }
  }
  return undefined;
};

const city: Normalizer = (raw) => {
  const text = lower(raw, {})?.replace(/[\s\p{P}\p{S}]+/gu, '');
  return text || undefined;
};

const state: Normalizer = (raw) => {
  const text = lower(raw, {});
  if (!text) return undefined;
  if (/^[a-z]{2}$/.test(text)) return text;
  return stateCode(text);
};

const FIVE_DIGITS = /^\d{5}$/;
const NINE_DIGITS = /^\d{9}$/;
// Postal code separators: any run of non-alphanumerics in ASCII text, else of spaces, punctuation and symbols.
const NOT_ASCII_ALNUM = /[^a-z0-9]+/g;
const POSTAL_SEPARATORS = /[\s\p{P}\p{S}\p{Cc}]+/gu;
const POSTAL_CODE = /^[a-z0-9]{2,10}$/;

const zip: Normalizer = (raw) => {
  // A numeric column loses US ZIP codes' leading zeros (02134 is stored as 2134).
  if ((typeof raw === 'number' && Number.isInteger(raw) && raw >= 0 && raw < 100000) || (typeof raw === 'bigint' && raw >= 0n && raw < 100000n)) {
    return String(raw).padStart(5, '0');
  }
  const text = lower(raw, {});
  if (!text) return undefined;
  if (FIVE_DIGITS.test(text)) return text;
  // Spaces, hyphens and other punctuation anywhere are not part of the code ("98 121-9431", "12345-", "SW1A 1AA").
  const compact = text.replace(ASCII.test(text) ? NOT_ASCII_ALNUM : POSTAL_SEPARATORS, '');
  // US ZIP+4, however it was spaced: the first five digits.
  if (NINE_DIGITS.test(compact)) return compact.slice(0, 5);
  return POSTAL_CODE.test(compact) ? compact : undefined;
};

const country: Normalizer = (raw) => {
  const text = identifierText(raw);
  return text ? countryCode(text) : undefined;
};

const ipAddress: Normalizer = (raw) => {
  const text = scalarText(raw);
  return text && isIP(text) ? text : undefined;
};

const plain: Normalizer = (raw) => scalarText(raw);

export const NORMALIZERS: Record<UserKey, Normalizer> = {
  em: email,
  ph: phone,
  ge: gender,
  db: dateOfBirth,
  fn: lower,
  ln: lower,
  ct: city,
  st: state,
  zp: zip,
  country,
  external_id: lower,
  hashed_maids: lower,
  client_ip_address: ipAddress,
  client_user_agent: plain,
  click_id: plain,
  partner_id: plain,
};

// Made-up identifiers, one or two per normalizer whose first use builds something: the
// country names from ICU, libphonenumber's metadata for a region, the regular expressions.
// A reading thread normalizes them while it waits for its start (docs/adr/0004-cli-bundle.md), which its first
// page would otherwise spend. Each must be accepted, or it would stop short of those tables.
export const WARM_UP_SAMPLES: Partial<Record<UserKey, readonly string[]>> = {
  em: [' Someone@Example.com'],
  ph: ['(415) 555-0101', '+44 20 7946 0958'],
  ge: ['Female'],
  db: ['1990-01-31'],
  ct: ['San Francisco'],
  st: ['California'],
  zp: ['94105-1234'],
  country: ['United States'],
  client_ip_address: ['192.0.2.1'],
};

/** Normalizes WARM_UP_SAMPLES, so that a run's first rows find every table built. */
export function warmUpNormalizers(): void {
  for (const [key, samples] of Object.entries(WARM_UP_SAMPLES)) {
    for (const sample of samples) NORMALIZERS[key as UserKey](sample, { defaultCountry: 'US' });
  }
}

/** Why a value was dropped, by key: never includes the value itself. */
export const DROP_REASONS: Record<UserKey, string> = {
  em: 'not an email address',
  ph: 'not a phone number (or no country code and no options.default_country)',
  ge: 'not a recognised gender (f, m, n)',
  db: 'not a valid date of birth',
  fn: 'not text',
  ln: 'not text',
  ct: 'not text',
  st: 'not a two-letter code or a known state name',
  zp: 'not a postal code',
  country: 'not a known country name or ISO code',
  external_id: 'not text',
  hashed_maids: 'not text',
  client_ip_address: 'not an IPv4 or IPv6 address',
  client_user_agent: 'not text',
  click_id: 'not text',
  partner_id: 'not text',
};
