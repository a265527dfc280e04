// Lookup tables for state and country normalization.
import { isCountryCode, isoCodes } from '../core/countries.js';

/** A lookup key that ignores case, accents, punctuation and spacing. */
export function looseKey(text: string): string {
  // eslint-disable-next-line no-control-regex -- all of ASCII, controls included
  if (/^[\x00-\x7f]*$/.test(text)) return text.toLowerCase().replace(/[^a-z0-9]+/g, '');
  return text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '');
}

const US_STATES: Record<string, string> = {
  AL: 'Alabama', AK: 'Alaska', AZ: 'Arizona', AR: 'Arkansas', CA: 'California', CO: 'Colorado',
  CT: 'Connecticut', DE: 'Delaware', FL: 'Florida', GA: 'Georgia', HI: 'Hawaii', ID: 'Idaho',
  IL: 'Illinois', IN: 'Indiana', IA: 'Iowa', KS: 'Kansas', KY: 'Kentucky', LA: 'Louisiana',
  ME: 'Maine', MD: 'Maryland', MA: 'Massachusetts', MI: 'Michigan', MN: 'Minnesota',
  MS: 'Mississippi', MO: 'Missouri', MT: 'Montana', NE: 'Nebraska', NV: 'Nevada',
  NH: 'New Hampshire', NJ: 'New Jersey', NM: 'New Mexico', NY: 'New York', NC: 'North Carolina',
  ND: 'North Dakota', OH: 'Ohio', OK: 'Oklahoma', OR: 'Oregon', PA: 'Pennsylvania',
  RI: 'Rhode Island', SC: 'South Carolina', SD: 'South Dakota', TN: 'Tennessee', TX: 'Texas',
  UT: 'Utah', VT: 'Vermont', VA: 'Virginia', WA: 'Washington', WV: 'West Virginia',
  WI: 'Wisconsin', WY: 'Wyoming', DC: 'District of Columbia', PR: 'Puerto Rico', GU: 'Guam',
  VI: 'U.S. Virgin Islands', AS: 'American Samoa', MP: 'Northern Mariana Islands',
};

// Canadian provinces share the two-letter convention; their names are common in US-centric data.
const CA_PROVINCES: Record<string, string> = {
  AB: 'Alberta', BC: 'British Columbia', MB: 'Manitoba', NB: 'New Brunswick',
  NL: 'Newfoundland and Labrador', NS: 'Nova Scotia', NT: 'Northwest Territories', NU: 'Nunavut',
  ON: 'Ontario', PE: 'Prince Edward Island', QC: 'Quebec', SK: 'Saskatchewan', YT: 'Yukon',
};

const STATE_ALIASES: Record<string, string> = {
  'Washington DC': 'DC', 'Washington D.C.': 'DC', 'Virgin Islands': 'VI', 'Québec': 'QC',
  // Newspaper (AP style) abbreviations, the other way states are written with dots ("Calif.",
  // "W.Va."); two-letter ones ("N.Y.", "Pa.") are the codes themselves.
  'Ala.': 'AL', 'Ariz.': 'AZ', 'Ark.': 'AR', 'Calif.': 'CA', 'Cal.': 'CA', 'Colo.': 'CO', 'Conn.': 'CT',
  'Del.': 'DE', 'Fla.': 'FL', 'Ill.': 'IL', 'Ind.': 'IN', 'Kan.': 'KS', 'Kans.': 'KS', 'Mass.': 'MA',
  'Mich.': 'MI', 'Minn.': 'MN', 'Miss.': 'MS', 'Mont.': 'MT', 'Neb.': 'NE', 'Nebr.': 'NE', 'Nev.': 'NV',
  'Okla.': 'OK', 'Ore.': 'OR', 'Oreg.': 'OR', 'Penn.': 'PA', 'Penna.': 'PA', 'Tenn.': 'TN', 'Tex.': 'TX',
  'Wash.': 'WA', 'W.Va.': 'WV', 'Wis.': 'WI', 'Wisc.': 'WI', 'Wyo.': 'WY',
  'Alta.': 'AB', 'Man.': 'MB', 'Nfld.': 'NL', 'Ont.': 'ON', 'P.E.I.': 'PE', 'Que.': 'QC', 'Sask.': 'SK',
};

const stateByName = new Map<string, string>();
for (const table of [US_STATES, CA_PROVINCES]) {
  for (const [code, name] of Object.entries(table)) stateByName.set(looseKey(name), code.toLowerCase());
}
for (const [name, code] of Object.entries(STATE_ALIASES)) stateByName.set(looseKey(name), code.toLowerCase());

const stateCodes = new Set([...Object.keys(US_STATES), ...Object.keys(CA_PROVINCES)].map((code) => code.toLowerCase()));

/**
 * A US state or Canadian province, named, abbreviated ("Calif.") or its code written with dots
 * or spaces ("N.Y.", "n y"), to its two-letter code, lowercase.
 */
export function stateCode(name: string): string | undefined {
  const key = looseKey(name);
  // Only a known code: "N/A" is not a state.
  if (key.length === 2 && stateCodes.has(key)) return key;
  return stateByName.get(key);
}

const COUNTRY_ALIASES: Record<string, string> = {
  usa: 'us', us: 'us', 'u.s.': 'us', 'u.s.a.': 'us', america: 'us', 'united states of america': 'us',
  uk: 'gb', 'great britain': 'gb', britain: 'gb', england: 'gb', scotland: 'gb', wales: 'gb',
  'northern ireland': 'gb', holland: 'nl', 'the netherlands': 'nl', korea: 'kr',
  'republic of korea': 'kr', 'russian federation': 'ru', 'czech republic': 'cz', turkey: 'tr',
  uae: 'ae', 'viet nam': 'vn', 'ivory coast': 'ci', deutschland: 'de', espana: 'es',
  // ISO 3166 short names and common names that differ from Unicode's.
  'korea, republic of': 'kr', 'south korea': 'kr', 'north korea': 'kp', "korea, democratic people's republic of": 'kp',
  'hong kong': 'hk', macau: 'mo', macao: 'mo', palestine: 'ps', 'palestine, state of': 'ps', burma: 'mm',
  swaziland: 'sz', macedonia: 'mk', 'east timor': 'tl', 'republic of the congo': 'cg', congo: 'cg',
  'democratic republic of the congo': 'cd', drc: 'cd', 'congo, the democratic republic of the': 'cd',
  "lao people's democratic republic": 'la', 'syrian arab republic': 'sy', 'holy see': 'va',
  'holy see (vatican city state)': 'va', 'micronesia, federated states of': 'fm', 'taiwan, province of china': 'tw',
  'iran, islamic republic of': 'ir', 'moldova, republic of': 'md', 'tanzania, united republic of': 'tz',
  'venezuela, bolivarian republic of': 've', 'heard island and mcdonald islands': 'hm', 'bolivia, plurinational state of': 'bo', 'brunei darussalam': 'bn',
  gbr: 'gb', deu: 'de', fra: 'fr', can: 'ca', aus: 'au', mex: 'mx', bra: 'br', ind: 'in',
  jpn: 'jp', chn: 'cn', ita: 'it', esp: 'es', nld: 'nl', irl: 'ie', nzl: 'nz',
};

let aliasByKey: Map<string, string> | undefined;
// The languages most warehouses hold, English first: where two languages give one name to
// different countries, the earlier language wins.
const LANGUAGES = ['en', 'de', 'fr', 'es', 'it', 'nl', 'pt'];
const namesByLanguage: Map<string, string>[] = [];

// One language's country names, from the ICU data Node ships, built only when first needed
// (docs/adr/0004-cli-bundle.md) and only as far as a lookup needs (most columns hold
// codes, aliases or English names), and never for checking a code (a sync file's default_country).
function namesIn(language: string): Map<string, string> {
  const byName = new Map<string, string>();
  const display = new Intl.DisplayNames([language], { type: 'region', fallback: 'none' });
  for (const code of isoCodes()) {
    const name = display.of(code);
    if (!name) continue;
    // Unicode writes "Bosnia & Herzegovina" and "Hong Kong SAR China"; people write "and" and "Hong Kong".
    const spelled = name.replace(/&/g, 'and').replace(/^St\. /, 'Saint ').replace(/ SAR China$/, '');
    for (const variant of [name, spelled]) {
      const key = looseKey(variant);
      if (!byName.has(key)) byName.set(key, code.toLowerCase());
    }
  }
  return byName;
}

/** The country a loose key names: an alias first, then each language's names in turn. */
function codeByName(key: string): string | undefined {
  aliasByKey ??= new Map(Object.entries(COUNTRY_ALIASES).map(([alias, code]) => [looseKey(alias), code]));
  const alias = aliasByKey.get(key);
  if (alias) return alias;
  for (let i = 0; i < LANGUAGES.length; i++) {
    const code = (namesByLanguage[i] ??= namesIn(LANGUAGES[i]!)).get(key);
    if (code) return code;
  }
  return undefined;
}

/** A country name or code to its ISO 3166 alpha-2 code, lowercase. */
export function countryCode(text: string): string | undefined {
  const key = looseKey(text);
  if (key.length === 2 && isCountryCode(key)) return key;
  const found = codeByName(key) ?? codeByName(looseKey(text.replace(/&/g, 'and')));
  if (found) return found;
  // ISO style "Moldova, Republic of": the part before the comma names the country.
  const comma = text.indexOf(',');
  return comma > 0 ? codeByName(looseKey(text.slice(0, comma))) : undefined;
}
