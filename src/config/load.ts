// Reading a sync file: YAML with positions, ${ENV} interpolation, schema validation.
// Problems are returned as data, each with file:line:column, so every problem of
// every file can be printed at once.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { crossCheck, syncSchema, SOURCE_TYPES, type SyncDefinition } from './schema.js';
import { suggest } from '../core/suggest.js';
import { redact, registerSecret } from '../core/redact.js';
import type { Problem } from '../core/types.js';

export type { Problem } from '../core/types.js';

export function formatProblem(p: Problem): string {
  return redact(`${p.file}:${p.line}:${p.col}: ${p.path ? `${p.path}: ` : ''}${p.message}`);
}

export type Path = readonly PropertyKey[];

export interface LoadedSync {
  /** The sync's name (its `name:`, or the file name), known even when the file has problems. */
  name: string;
  /** The definition, when the file has no problems. */
  sync?: SyncDefinition;
  problems: Problem[];
  /** Position of a key path, for problems found later (e.g. a mapped column the source lacks). */
  problemAt(path: Path, message: string): Problem;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Whether destination credentials must be present (validate, run) or may be absent (preview). */
  requireDestination?: boolean;
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

interface Located {
  doc: Document;
  lines: LineCounter;
  file: string;
}

function dotted(p: Path): string {
  return p.map((k) => (typeof k === 'number' ? `[${k}]` : String(k))).join('.').replace(/\.\[/g, '[');
}

/** The node at a path, or the nearest ancestor that exists. */
function nodeAt(doc: Document, p: Path): { node: Node | null; exact: boolean; keyNode?: Node } {
  let node: unknown = doc.contents;
  for (let i = 0; i < p.length; i++) {
    const key = p[i];
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(key));
      if (!pair) return { node: node as Node, exact: false };
      if (i === p.length - 1) return { node: (pair.value as Node) ?? (pair.key as Node), exact: true, keyNode: pair.key as Node };
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number' && node.items[key]) {
      node = node.items[key];
    } else {
      return { node: (node as Node) ?? null, exact: false };
    }
  }
  return { node: (node as Node) ?? null, exact: true };
}

function position(loc: Located, offset: number | undefined): { line: number; col: number } {
  return offset === undefined ? { line: 1, col: 1 } : loc.lines.linePos(offset);
}

function problemAt(loc: Located, p: Path, message: string, atKey = false): Problem {
  const found = nodeAt(loc.doc, p);
  const target = atKey && found.keyNode ? found.keyNode : found.node;
  return { file: loc.file, ...position(loc, target?.range?.[0]), path: dotted(p), message };
}

/** Replace ${NAME} and ${NAME:-default} in every string scalar; report unset variables. */
function interpolate(loc: Located, env: NodeJS.ProcessEnv): { missing: { path: Path; name: string }[]; malformed: Path[]; interpolated: Path[] } {
  const missing: { path: Path; name: string }[] = [];
  const malformed: Path[] = [];
  const interpolated: Path[] = [];
  const walk = (node: unknown, p: PropertyKey[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) if (isPair(pair) && isScalar(pair.key)) walk(pair.value, [...p, String(pair.key.value)]);
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...p, i]));
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
      const replaced = node.value.replace(ENV_REF, (_all, name: string, fallback: string | undefined) => {
        const value = env[name];
        if (value !== undefined && value !== '') {
          // Connection settings and the token are credentials: never show them.
          if (p[0] === 'source' || p[0] === 'notify' || (p[0] === 'destination' && p[1] === 'access_token')) registerSecret(value);
          return value;
        }
        if (fallback !== undefined) return fallback;
        missing.push({ path: p, name });
        return '';
      });
      // What is left of a "${" after replacement is a reference that was meant but mistyped.
      if (/\$\{/.test(node.value.replace(ENV_REF, ''))) malformed.push(p);
      else if (replaced !== node.value) interpolated.push(p);
      node.value = replaced;
    }
  };
  walk(loc.doc.contents, []);
  return { missing, malformed, interpolated };
}

function typeName(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}

function valueAt(data: unknown, p: Path): unknown {
  let cur = data;
  for (const k of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k as string];
  }
  return cur;
}

type SchemaDef = { type?: string; innerType?: unknown; in?: unknown; options?: unknown[]; shape?: Record<string, unknown>; valueType?: unknown; values?: unknown[] };
const defOf = (schema: unknown): SchemaDef | undefined => (schema as { def?: SchemaDef } | undefined)?.def;

function unwrapSchema(schema: unknown): unknown {
  let cur = schema;
  while (['optional', 'default', 'pipe', 'nullable', 'prefault'].includes(defOf(cur)?.type ?? '')) {
    cur = defOf(cur)!.innerType ?? defOf(cur)!.in;
  }
  return cur;
}

/** The schema(s) that may apply at a path (a union stands for its branches), unwrapped. */
function schemasAt(schema: unknown, data: unknown, p: Path): unknown[] {
  let candidates = [unwrapSchema(schema)];
  for (let i = 0; ; i++) {
    // A union stands for its object branches; a discriminated one (source.type) for the branch the data names.
    candidates = candidates.flatMap((c) => {
      const def = defOf(c);
      if (def?.type !== 'union' || !def.options) return [c];
      const options = def.options.map(unwrapSchema);
      const objects = options.filter((o) => defOf(o)?.type === 'object');
      const here = valueAt(data, p.slice(0, i)) as { type?: unknown } | undefined;
      const named = objects.filter((o) => defOf(defOf(o)!.shape?.type)?.values?.includes(here?.type));
      return named.length > 0 ? named : i === p.length ? options : objects;
    });
    if (i === p.length) return candidates;
    const key = String(p[i]);
    candidates = candidates
      .map((c) => (defOf(c)?.type === 'record' ? defOf(c)!.valueType : defOf(c)?.shape?.[key]))
      .filter((c) => c !== undefined)
      .map(unwrapSchema);
    if (candidates.length === 0) return [];
  }
}

/** Known keys of the object schema(s) at a path, for "did you mean" hints. */
function knownKeysAt(schema: unknown, data: unknown, p: Path): string[] {
  return [...new Set(schemasAt(schema, data, p).flatMap((c) => Object.keys(defOf(c)?.shape ?? {})))];
}

const NUMBER_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

/**
 * A value from ${VAR} is text; where the schema wants a number or a boolean and no text, it is
 * read as one. Only interpolated values: a quoted "500" written in the file is text on purpose.
 */
function coerceInterpolated(data: unknown, paths: Path[]): void {
  for (const p of paths) {
    const value = valueAt(data, p);
    if (typeof value !== 'string') continue;
    const types = new Set(schemasAt(syncSchema, data, p).map((s) => defOf(s)?.type));
    if (types.has('string')) continue;
    const text = value.trim();
    let coerced: unknown;
    if (types.has('number') && NUMBER_TEXT.test(text)) coerced = Number(text);
    else if (types.has('boolean') && /^(true|false)$/i.test(text)) coerced = text.toLowerCase() === 'true';
    else continue;
    const parent = valueAt(data, p.slice(0, -1));
    if (parent && typeof parent === 'object') (parent as Record<PropertyKey, unknown>)[p.at(-1) as string] = coerced;
  }
}

/** What a number at a path may be, e.g. "a whole number from 1 to 1000", when the schema says. */
function numberRange(data: unknown, p: Path): string | undefined {
  const schema = schemasAt(syncSchema, data, p).find((s) => defOf(s)?.type === 'number') as
    { minValue?: number | null; maxValue?: number | null; isInt?: boolean; def: { checks?: { _zod: { def: { check?: string; inclusive?: boolean } } }[] } } | undefined;
  if (!schema) return undefined;
  const bounded = (n: number | null | undefined): n is number => typeof n === 'number' && Math.abs(n) < Number.MAX_SAFE_INTEGER;
  const kind = schema.isInt ? 'a whole number' : 'a number';
  // A whole number greater than 0 (positive()) is one of at least 1.
  const exclusive = schema.def.checks?.some((c) => c._zod.def.check === 'greater_than' && c._zod.def.inclusive === false);
  const min = bounded(schema.minValue) && exclusive && schema.isInt ? schema.minValue + 1 : schema.minValue;
  if (bounded(min) && bounded(schema.maxValue)) return `${kind} from ${min} to ${schema.maxValue}`;
  if (bounded(min)) return `${kind} of at least ${min}`;
  if (bounded(schema.maxValue)) return `${kind} of at most ${schema.maxValue}`;
  return kind;
}

function issueProblems(loc: Located, issue: z.core.$ZodIssue, data: unknown, base: Path = []): Problem[] {
  const p = [...base, ...issue.path];
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeysAt(syncSchema, data, p);
      return issue.keys.map((key) => {
        const hint = suggest(key, known);
        const where = p.length ? ` in ${dotted(p)}` : '';
        return problemAt(loc, [...p, key], `unknown key '${key}'${where}${hint ? `; did you mean '${hint}'?` : ''}`, true);
      });
    }
    case 'invalid_union': {
      const value = valueAt(data, p);
      // The source's own union is its type; a union-typed key in it (ssl, maximum_bytes_billed) is that key's.
      if (p[0] === 'source' && (p.length === 1 || (p.length === 2 && p[1] === 'type'))) {
        const type = (valueAt(data, ['source']) as { type?: unknown } | undefined)?.type;
        const hint = typeof type === 'string' ? suggest(type, SOURCE_TYPES) : undefined;
        return [problemAt(loc, ['source', 'type'], `must be one of ${SOURCE_TYPES.join(', ')}${hint ? `; did you mean '${hint}'?` : ''}`)];
      }
      // Report the branch that fits the value's shape (a mapping's object form, say) rather than all of them.
      if (p[0] === 'mappings' && value !== null && typeof value === 'object' && 'value' in value && 'column' in value) {
        return []; // crossCheck explains that the two forms do not mix
      }
      if (p[0] === 'mappings' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
        // The object forms: { value } or { column, map, default, fields }.
        const branch = issue.errors['value' in value ? 1 : 2];
        if (branch) return branch.flatMap((i) => issueProblems(loc, i, data, p));
      }
      // A number that fits no branch (maximum_bytes_billed: 1e400) is out of the number branch's range.
      const range = typeof value === 'number' ? numberRange(data, p) : undefined;
      // A word or a number (concurrency: auto | 1..64): name both.
      const words = issue.errors.flatMap((branch) => branch.flatMap((i) => (i.code === 'invalid_value' && i.path.length === 0 ? i.values.map(String) : [])));
      const numbers = words.length > 0 ? numberRange(data, p) : undefined;
      if (numbers) return [problemAt(loc, p, `must be ${words.join(', ')} or ${numbers}`)];
      if (range) return [problemAt(loc, p, `must be ${range}`)];
      const fitting = issue.errors.filter((branch) => !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0));
      if (fitting.length === 1) return fitting[0]!.flatMap((i) => issueProblems(loc, i, data, p));
      if (p[0] === 'mappings') return [problemAt(loc, p, 'a mapping is a column name, { value: … }, or { column: …, map: … }')];
      if (p[0] === 'match') return [problemAt(loc, p, 'a match key takes a column name or a list of column names')];
      return [problemAt(loc, p, `${typeName(value)} is not allowed here`)];
    }
    case 'invalid_type': {
      const value = valueAt(data, p);
      if (value === undefined) return [problemAt(loc, p, `missing required key '${String(p.at(-1))}'`)];
      const range = numberRange(data, p);
      const quoted = typeof value === 'string' && NUMBER_TEXT.test(value.trim());
      if (range) return [problemAt(loc, p, `must be ${range}${quoted ? ', written without quotes' : typeof value === 'number' ? '' : typeof value === 'string' ? ', not text' : `, not ${typeName(value)}`}`)];
      return [problemAt(loc, p, `expected ${issue.expected}, got ${typeName(value)}`)];
    }
    case 'invalid_value': {
      const value = valueAt(data, p);
      const allowed = issue.values.map(String);
      const hint = typeof value === 'string' ? suggest(value, allowed) : undefined;
      return [problemAt(loc, p, `must be ${allowed.length === 1 ? allowed[0] : `one of ${allowed.join(', ')}`}${hint ? `; did you mean '${hint}'?` : ''}`)];
    }
    case 'too_small':
    case 'too_big': {
      if (issue.origin === 'string' || issue.origin === 'array') return [problemAt(loc, p, issue.code === 'too_small' ? 'must not be empty' : 'is too long')];
      const range = numberRange(data, p);
      if (range) return [problemAt(loc, p, `must be ${range}`)];
      return [problemAt(loc, p, issue.code === 'too_small' ? `must be at least ${String(issue.minimum)}` : `must be at most ${String(issue.maximum)}`)];
    }
    case 'invalid_format':
    case 'custom':
    default:
      return [problemAt(loc, p, issue.message.replace(/^Invalid( input)?: /, 'must be '))];
  }
}

/** Credentials a run needs; preview does without them. */
function destinationProblems(loc: Located, data: Record<string, unknown>): Problem[] {
  if (data.destination === undefined) {
    return [problemAt(loc, ['destination'], "missing required section 'destination' (ad_account_id, access_token)")];
  }
  const destination = (data.destination ?? {}) as Record<string, unknown>;
  const hints: Record<string, string> = {
    ad_account_id: "missing required key 'ad_account_id' (use ${PINTEREST_AD_ACCOUNT_ID})",
    access_token: "missing required key 'access_token' (use ${PINTEREST_ACCESS_TOKEN})",
  };
  return Object.entries(hints)
    .filter(([key]) => destination[key] === undefined)
    .map(([key, message]) => problemAt(loc, ['destination', key], message));
}

function deletePath(data: unknown, p: Path): void {
  const parent = valueAt(data, p.slice(0, -1));
  if (parent && typeof parent === 'object') delete (parent as Record<PropertyKey, unknown>)[p.at(-1) as string];
}

const nameFromFile = (file: string) => path.basename(file).replace(/\.ya?ml$/i, '');

export function parseSync(text: string, file: string, options: LoadOptions = {}): LoadedSync {
  let name = nameFromFile(file);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const loc: Located = { doc, lines, file };
  const located = (p: Path, message: string) => problemAt(loc, p, message);
  const problems: Problem[] = [];
  for (const error of doc.errors) {
    const { line, col } = position(loc, error.pos[0]);
    problems.push({ file, line, col, path: '', message: error.message.split('\n')[0]! });
  }
  if (problems.length > 0) return { name, problems, problemAt: located };

  const requireDestination = options.requireDestination ?? true;
  const { missing, malformed, interpolated } = interpolate(loc, options.env ?? process.env);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // Unresolved aliases and alias bombs surface only here.
    let at: Node | undefined;
    visit(doc, { Alias: (_key, node) => { at ??= node as unknown as Node; } });
    const { line, col } = position(loc, at?.range?.[0]);
    return { name, problems: [{ file, line, col, path: '', message: (error as Error).message.split('\n')[0]! }], problemAt: located };
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return { name, problems: [{ file, line: 1, col: 1, path: '', message: 'a sync file is a YAML mapping (version, source, match, mappings, …)' }], problemAt: located };
  }
  coerceInterpolated(data, interpolated);
  const declared = (data as { name?: unknown }).name;
  if (typeof declared === 'string' && declared !== '') name = declared;
  for (const p of malformed) problems.push(problemAt(loc, p, 'malformed environment reference: write ${NAME} (letters, digits and _) or ${NAME:-fallback}'));
  for (const m of missing) {
    if (!requireDestination && m.path[0] === 'destination') deletePath(data, m.path);
    else problems.push(problemAt(loc, m.path, `environment variable ${m.name} is not set (export it, or write \${${m.name}:-default})`));
  }
  const missingPaths = new Set(missing.map((m) => dotted(m.path)));
  const parsed = syncSchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // An unset variable was reported already; its empty value would only repeat it.
      for (const problem of issueProblems(loc, issue, data)) {
        // One value can break two checks (a huge whole number is too big as an integer and for its range).
        const repeated = problems.some((q) => q.path === problem.path && q.message === problem.message);
        if (!missingPaths.has(problem.path) && !repeated) problems.push(problem);
      }
    }
  }
  const more = crossCheck(data as Record<string, unknown>).map((c) => problemAt(loc, c.path, c.message));
  if (requireDestination) more.push(...destinationProblems(loc, data as Record<string, unknown>));
  // A problem at or above an unset variable's key is that variable's consequence, reported already.
  const consequence = (p: string) => [...missingPaths].some((m) => m === p || m.startsWith(`${p}.`));
  for (const problem of more) if (!consequence(problem.path)) problems.push(problem);
  problems.sort((a, b) => a.line - b.line || a.col - b.col);
  if (problems.length > 0 || !parsed.success) return { name, problems, problemAt: located };
  registerSecret(parsed.data.destination.access_token);
  registerSecret(parsed.data.notify?.webhook);
  const source = parsed.data.source;
  if (source.type === 'postgres' || source.type === 'redshift') registerSecret(source.password);
  if (source.type === 'snowflake') for (const secret of [source.password, source.oauth_token, source.private_key_passphrase]) registerSecret(secret);
  return { name, sync: { ...parsed.data, name, file: path.resolve(file) }, problems, problemAt: located };
}

export async function loadSyncFile(file: string, options: LoadOptions = {}): Promise<LoadedSync> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory, not a sync file' : `cannot read file (${code ?? 'error'})`;
    return { name: nameFromFile(file), problems: [{ file, line: 1, col: 1, path: '', message }], problemAt: (p, m) => ({ file, line: 1, col: 1, path: dotted(p), message: m }) };
  }
  return parseSync(text, file, options);
}
