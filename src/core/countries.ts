// The ISO 3166 country codes, which a sync file's default_country (config) and the country
// normalizer (mapping) both check against.
import { createRequire } from 'node:module';

// libphonenumber's regions through its public getCountries(), which leaves out "001"
// (non-geographic numbers). Loaded when a country code is first checked, not before.
const require = createRequire(import.meta.url);
const metadataRegions = (): string[] => (require('libphonenumber-js') as typeof import('libphonenumber-js')).getCountries();

// ISO 3166-1 alpha-2: libphonenumber's regions, less its two non-ISO ones, plus the
// uninhabited territories that have no phone numbering plan. (Intl alone also names
// retired codes such as DD and UK, which must not win over DE and GB.)
const NOT_ISO = new Set(['AC', 'TA']);
const NO_PHONE_PLAN = ['AQ', 'BV', 'GS', 'HM', 'PN', 'TF', 'UM'];

let codes: string[] | undefined;
let lowerCaseCodes: Set<string> | undefined;

/** Every ISO 3166-1 alpha-2 code, uppercase. */
export const isoCodes = (): string[] => (codes ??= [...metadataRegions().filter((c) => !NOT_ISO.has(c)), ...NO_PHONE_PLAN]);

/** Whether a two-letter code names a country. */
export function isCountryCode(code: string): boolean {
  lowerCaseCodes ??= new Set(isoCodes().map((c) => c.toLowerCase()));
  return lowerCaseCodes.has(code.toLowerCase());
}
