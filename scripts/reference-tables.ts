// Renders the key tables of docs/reference.md and docs/sources.md from the sync file's JSON
// Schema (src/config/schema.ts), so the tables cannot drift from what the validator accepts.
// Only the text between `<!-- keys:NAME -->` and `<!-- /keys -->` is generated; the prose
// around it is written by hand. `npm run docs:reference` rewrites the files, and
// test/unit/reference.test.ts fails when they are not in step with the schema.
import { DURATION_PATTERN } from '../src/config/duration.js';

export interface JsonSchema {
  type?: string;
  const?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
  description?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
}

/** The markers the pages hold, in order: what `keys:NAME` names in the schema. */
export const MARKER = /<!-- keys:([\w.]+) -->\n[\s\S]*?<!-- \/keys -->/g;

const code = (value: unknown) => `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
const cell = (text: string) => text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');

function typeOf(node: JsonSchema): string {
  if (node.const !== undefined) return code(node.const);
  if (node.enum) return node.enum.map(code).join(' or ');
  const alternatives = node.anyOf ?? node.oneOf;
  if (alternatives) return [...new Set(alternatives.map(typeOf))].join(' or ');
  const range = (what: string) => {
    if (node.exclusiveMinimum === 0) return `positive ${what}`;
    if (node.minimum !== undefined && node.maximum !== undefined) return `${what}, ${node.minimum}–${node.maximum}`;
    return what;
  };
  switch (node.type) {
    case 'string': return node.pattern === DURATION_PATTERN.source ? 'duration' : 'text';
    case 'integer': return range('integer');
    case 'number': return range('number');
    case 'boolean': return 'boolean';
    case 'array': return `list of ${node.items ? typeOf(node.items) : 'values'}`;
    case 'object': return 'object';
    default: return 'any';
  }
}

function defaultOf(node: JsonSchema, required: boolean): string {
  if (required) return 'required';
  if (node.default === undefined || (node.default !== null && typeof node.default === 'object')) return '—';
  return code(node.default);
}

function table(properties: Record<string, JsonSchema>, required: readonly string[]): string {
  const rows = Object.entries(properties).map(([key, node]) => {
    if (!node.description) throw new Error(`the sync file schema has no description for '${key}': add .describe() in src/config/schema.ts`);
    return `| \`${key}\` | ${cell(typeOf(node))} | ${cell(defaultOf(node, required.includes(key)))} | ${cell(node.description)} |`;
  });
  return ['| key | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

const sourceTypeOf = (branch: JsonSchema) => String(branch.properties?.type?.const);

/** The keys a marker names: `sync` (the top level), a top-level key, `source` (the keys every source shares) or `source.TYPE` (that source's own). */
function keysOf(schema: JsonSchema, name: string): { properties: Record<string, JsonSchema>; required: string[] } {
  if (name === 'sync') return { properties: schema.properties ?? {}, required: schema.required ?? [] };
  const [top, sub] = name.split('.');
  const node = schema.properties?.[top!];
  if (top === 'source' && node?.oneOf) {
    const branches = node.oneOf;
    const shared = Object.keys(branches[0]!.properties ?? {}).filter((key) => branches.every((b) => b.properties?.[key] !== undefined));
    if (sub === undefined) {
      const properties: Record<string, JsonSchema> = {
        type: { enum: branches.map(sourceTypeOf), description: 'Which kind of source; its own keys are in [sources.md](sources.md).' },
      };
      for (const key of shared) if (key !== 'type') properties[key] = branches[0]!.properties![key]!;
      return { properties, required: ['type'] };
    }
    const branch = branches.find((b) => sourceTypeOf(b) === sub);
    if (!branch) throw new Error(`no source type '${sub}' in the sync file schema`);
    const own = Object.entries(branch.properties ?? {}).filter(([key]) => !shared.includes(key));
    return { properties: Object.fromEntries(own), required: (branch.required ?? []).filter((key) => !shared.includes(key)) };
  }
  if (sub !== undefined || !node?.properties) throw new Error(`'${name}' names no table of keys in the sync file schema`);
  return { properties: node.properties, required: node.required ?? [] };
}

/** `markdown` with every `<!-- keys:NAME -->` … `<!-- /keys -->` block rendered from `schema`. */
export function renderKeyTables(markdown: string, schema: JsonSchema): string {
  return markdown.replace(MARKER, (_block, name: string) => {
    const { properties, required } = keysOf(schema, name);
    return `<!-- keys:${name} -->\n${table(properties, required)}\n<!-- /keys -->`;
  });
}

/** The names of the markers `markdown` holds, in order. */
export function markersOf(markdown: string): string[] {
  return [...markdown.matchAll(MARKER)].map((m) => m[1]!);
}
