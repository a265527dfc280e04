// The customer-list and audience endpoints of the fake Pinterest: requests are checked against
// the official OpenAPI description (test/fixtures/pinterest-customer-lists.json, copied from
// Pinterest's api-description v5.23.0), each list keeps the records it was sent, and answers can
// be scripted to fail.
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';

const description = JSON.parse(readFileSync(new URL('../fixtures/pinterest-customer-lists.json', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, Operation>>;
  components: { parameters: Record<string, Parameter> };
};

interface Parameter {
  name: string;
  in: 'path' | 'query';
  required?: boolean;
  schema: object;
}

interface Operation {
  operationId: string;
  parameters: ({ $ref: string } | Parameter)[];
  requestBody?: { content: { 'application/json': { schema: object } } };
  responses: Record<string, { content?: { 'application/json': { schema: object } } }>;
}

export type ListEndpoint = 'customer_lists/get' | 'customer_lists/list' | 'customer_lists/create' | 'customer_lists/update' | 'audiences/list' | 'audiences/create';

/** The description's path and method of each endpoint. */
const ROUTES: Record<ListEndpoint, { path: string; method: string }> = {
  'customer_lists/get': { path: '/ad_accounts/{ad_account_id}/customer_lists/{customer_list_id}', method: 'get' },
  'customer_lists/update': { path: '/ad_accounts/{ad_account_id}/customer_lists/{customer_list_id}', method: 'patch' },
  'customer_lists/list': { path: '/ad_accounts/{ad_account_id}/customer_lists', method: 'get' },
  'customer_lists/create': { path: '/ad_accounts/{ad_account_id}/customer_lists', method: 'post' },
  'audiences/list': { path: '/ad_accounts/{ad_account_id}/audiences', method: 'get' },
  'audiences/create': { path: '/ad_accounts/{ad_account_id}/audiences', method: 'post' },
};

export const WRITE_ENDPOINTS: ReadonlySet<ListEndpoint> = new Set(['customer_lists/create', 'customer_lists/update', 'audiences/create']);

/** The description's local references, made to point into the description as ajv holds it. */
function anchored(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(anchored);
  if (typeof schema !== 'object' || schema === null) return schema;
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `pinterest${v}` : anchored(v)]));
}

export interface Validators {
  path: ValidateFunction;
  query: ValidateFunction;
  body?: ValidateFunction;
  answer: ValidateFunction;
  operationId: string;
}

function compileValidators(): Record<ListEndpoint, Validators> {
  // OpenAPI 3.0 schemas carry example, title and x- keys that are no JSON Schema keywords: not strict.
  const ajv = new Ajv({ strict: false, allErrors: true });
  // Path and query parameters arrive as text: integers (page_size) are read from it.
  const params = new Ajv({ strict: false, allErrors: true, coerceTypes: true });
  ajv.addSchema(description, 'pinterest');
  const out = {} as Record<ListEndpoint, Validators>;
  for (const [endpoint, route] of Object.entries(ROUTES) as [ListEndpoint, (typeof ROUTES)[ListEndpoint]][]) {
    const operation = description.paths[route.path]![route.method]!;
    const parameters = operation.parameters.map((p) => ('$ref' in p ? description.components.parameters[p.$ref.split('/').pop()!]! : p));
    const group = (where: 'path' | 'query') => {
      const mine = parameters.filter((p) => p.in === where);
      return params.compile({
        type: 'object',
        properties: Object.fromEntries(mine.map((p) => [p.name, p.schema])),
        required: mine.filter((p) => p.required).map((p) => p.name),
      });
    };
    const body = operation.requestBody?.content['application/json'].schema;
    out[endpoint] = {
      operationId: operation.operationId,
      path: group('path'),
      query: group('query'),
      ...(body ? { body: ajv.compile(anchored(body) as object) } : {}),
      answer: ajv.compile(anchored(operation.responses['200']!.content!['application/json'].schema) as object),
    };
  }
  return out;
}

export const validators = compileValidators();

/** ajv's errors, one line. */
export function errorsText(validate: ValidateFunction): string {
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`).join('; ');
}

/** Which endpoint a method and path ask for, with the path's parameters. */
export function routeOf(method: string, pathname: string): { endpoint: ListEndpoint; adAccountId: string; listId?: string } | undefined {
  const list = /^\/v5\/ad_accounts\/([^/]+)\/customer_lists(?:\/([^/]+))?\/?$/.exec(pathname);
  if (list) {
    const [, adAccountId, listId] = list.map((p) => (p === undefined ? undefined : decodeURIComponent(p)));
    if (listId !== undefined) {
      if (method === 'GET') return { endpoint: 'customer_lists/get', adAccountId: adAccountId!, listId };
      if (method === 'PATCH') return { endpoint: 'customer_lists/update', adAccountId: adAccountId!, listId };
      return undefined;
    }
    if (method === 'GET') return { endpoint: 'customer_lists/list', adAccountId: adAccountId! };
    if (method === 'POST') return { endpoint: 'customer_lists/create', adAccountId: adAccountId! };
    return undefined;
  }
  const audiences = /^\/v5\/ad_accounts\/([^/]+)\/audiences\/?$/.exec(pathname);
  if (audiences) {
    const adAccountId = decodeURIComponent(audiences[1]!);
    if (method === 'GET') return { endpoint: 'audiences/list', adAccountId };
    if (method === 'POST') return { endpoint: 'audiences/create', adAccountId };
  }
  return undefined;
}

/** A page's bookmark: opaque to the client, the offset of the next item here. */
export function bookmarkFor(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString('base64url');
}

export function offsetOf(bookmark: string | null): number | undefined {
  if (bookmark === null) return 0;
  const match = /^offset:(\d+)$/.exec(Buffer.from(bookmark, 'base64url').toString('utf8'));
  return match ? Number(match[1]) : undefined;
}

/** Records as Pinterest reads them: comma-separated, blanks (a trailing comma) left out. */
export function recordsOf(text: string): string[] {
  return text.split(',').map((r) => r.trim()).filter((r) => r.length > 0);
}
