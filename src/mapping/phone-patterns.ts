// libphonenumber-js with each regular expression of its metadata compiled once. Its internal
// matchesEntirely builds a new RegExp from a metadata pattern on every call: two thirds of the
// 13 µs a valid UK number took to parse (4.4 µs with this). Every caller in the library reads
// that function from the helper module's exports when it calls it, so replacing it there is
// enough; the replacement gives the same answers, with a RegExp kept per pattern (patterns
// come from the metadata, a bounded set; without flags, test() keeps no state). If that
// module is not where and what it was, the library is left as it is.
import { createRequire } from 'node:module';

type MatchesEntirely = ((text: string | undefined, pattern: string) => boolean) & { cached?: true };

function helperModule(): { default?: unknown } | undefined {
  try {
    // A path relative to the package's own entry: the package's exports map does not list it.
    const fromLibrary = createRequire(createRequire(import.meta.url).resolve('libphonenumber-js'));
    return fromLibrary('./build/helpers/matchesEntirely.js') as { default?: unknown };
  } catch {
    return undefined;
  }
}

/** Makes the library reuse its compiled patterns (see `metadataPatternsCached`). Call once it is loaded. */
export function cacheMetadataPatterns(): void {
  const helper = helperModule();
  const stock = helper?.default as MatchesEntirely | undefined;
  if (!helper || typeof stock !== 'function' || stock.length !== 2 || stock.cached) return;
  const compiled = new Map<string, RegExp>();
  const cached: MatchesEntirely = (text, pattern) => {
    let regexp = compiled.get(pattern);
    if (!regexp) compiled.set(pattern, (regexp = new RegExp(`^(?:${pattern})$`)));
    return regexp.test(text || '');
  };
  cached.cached = true;
  helper.default = cached;
}

/** Whether the library reuses its compiled patterns. */
export function metadataPatternsCached(): boolean {
  return (helperModule()?.default as MatchesEntirely | undefined)?.cached === true;
}
