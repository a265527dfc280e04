// libphonenumber-js with each regular expression of its metadata compiled once: its internal
// helper matchesEntirely builds a new RegExp from a metadata pattern on every call. Why, and
// how to remove it: docs/adr/0011-libphonenumber-compiled-patterns.md.
// Every caller in the library reads that helper from its module's exports when it calls it,
// so replacing the export is enough. Patterns come from the metadata, a bounded set; without
// flags, RegExp#test keeps no state.
import { createRequire } from 'node:module';

type MatchesEntirely = ((text: string | undefined, pattern: string) => boolean) & { cached?: true };
export interface HelperModule { default?: unknown }

// The stock helper, to the letter (comments and spacing aside): anchor the pattern, no flags,
// test the text. Anything else, and the replacement might not be equivalent.
const STOCK_SOURCE = /^function matchesEntirely\((\w+), (\w+)\) \{ \1 = \1 \|\| ''; return new RegExp\('\^\(\?:' \+ \2 \+ '\)\$'\)\.test\(\1\); \}$/;
const sourceOf = (f: (...args: never[]) => unknown): string => Function.prototype.toString.call(f).replace(/\/\/[^\n]*\n/g, '').replace(/\s+/g, ' ');

/** libphonenumber-js's own matchesEntirely module (a build path its exports map does not list), if it is there. */
export function libphonenumberHelper(): HelperModule | undefined {
  try {
    const fromLibrary = createRequire(createRequire(import.meta.url).resolve('libphonenumber-js'));
    return fromLibrary('./build/helpers/matchesEntirely.js') as HelperModule;
  } catch {
    return undefined;
  }
}

/**
 * Makes libphonenumber-js reuse its compiled patterns. Returns false, leaving the library as
 * it is, when its helper is missing or is not the function this replacement is equivalent to.
 */
export function cacheLibphonenumberPatterns(locate: () => HelperModule | undefined = libphonenumberHelper): boolean {
  const helper = locate();
  const stock = helper?.default as MatchesEntirely | undefined;
  if (!helper || typeof stock !== 'function') return false;
  if (stock.cached) return true;
  if (stock.length !== 2 || !STOCK_SOURCE.test(sourceOf(stock))) return false;
  const compiled = new Map<string, RegExp>();
  const cached: MatchesEntirely = (text, pattern) => {
    let regexp = compiled.get(pattern);
    if (!regexp) compiled.set(pattern, (regexp = new RegExp(`^(?:${pattern})$`)));
    return regexp.test(text || '');
  };
  cached.cached = true;
  helper.default = cached;
  return true;
}

/** Whether the library reuses its compiled patterns. */
export function libphonenumberPatternsCached(locate: () => HelperModule | undefined = libphonenumberHelper): boolean {
  return (locate()?.default as MatchesEntirely | undefined)?.cached === true;
}
