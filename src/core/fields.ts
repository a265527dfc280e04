// The catalog of mappable event fields, derived from the event schema so the two
// can never disagree.
import { z } from 'zod';
import {
  contentItemSchema, eventFieldsSchema, type FieldKind,
} from './event-schema.js';
import {
  Invalid, SCALAR_CONVERTERS, toCurrency, toEnum, toObjectList, type Converted,
} from './convert.js';

export interface FieldSpec {
  /** Dotted path as written in a sync file, e.g. `custom_data.value`. */
  path: string;
  kind: FieldKind;
  /** Allowed values of an enum field. */
  values?: readonly string[];
  /** For an enum, names other platforms use for its values, to suggest the right one. */
  aliases?: ReadonlyMap<string, string>;
  /** A converter that checks more than the kind does (a currency code is text, but not any text). */
  convert?: (value: unknown) => Converted<unknown>;
}

// Fields whose text has a fixed vocabulary the API checks.
const CHECKED_TEXT: ReadonlyMap<string, (value: unknown) => Converted<unknown>> = new Map([['custom_data.currency', toCurrency]]);

// Event names of other platforms (Meta, GA4, Segment), compared with _ and spaces removed.
const EVENT_NAME_ALIASES: ReadonlyMap<string, string> = new Map([
  ['purchase', 'checkout'], ['order', 'checkout'], ['ordercompleted', 'checkout'], ['completepurchase', 'checkout'],
  ['pageview', 'page_visit'], ['viewpage', 'page_visit'], ['viewitem', 'view_content'], ['productviewed', 'view_content'],
  ['completeregistration', 'signup'], ['register', 'signup'], ['registration', 'signup'], ['sign_up', 'signup'],
  ['generatelead', 'lead'], ['addtocart', 'add_to_cart'], ['productadded', 'add_to_cart'], ['addtowishlist', 'add_to_wishlist'],
  ['beginCheckout', 'initiate_checkout'], ['checkoutstarted', 'initiate_checkout'], ['addpaymentinfo', 'add_payment_info'],
  ['starttrial', 'start_trial'], ['submitapplication', 'submit_application'], ['viewitemlist', 'view_category'],
].map(([from, to]) => [from!.toLowerCase().replace(/[_\s-]/g, ''), to!]));

function unwrap(schema: z.ZodType): z.ZodType {
  return schema instanceof z.ZodOptional ? (schema.unwrap() as z.ZodType) : schema;
}

function collect(shape: Record<string, z.ZodType>, prefix: string, into: Map<string, FieldSpec>): void {
  for (const [key, raw] of Object.entries(shape)) {
    const schema = unwrap(raw);
    const path = prefix + key;
    if (schema instanceof z.ZodEnum) {
      into.set(path, { path, kind: 'enum', values: schema.options as string[], aliases: path === 'event_name' ? EVENT_NAME_ALIASES : undefined });
    } else if (schema instanceof z.ZodObject) {
      collect(schema.shape as Record<string, z.ZodType>, `${path}.`, into);
    } else {
      const kind = (schema.meta() as { kind?: FieldKind } | undefined)?.kind;
      if (!kind) throw new Error(`event schema field ${path} has no kind`);
      into.set(path, { path, kind, convert: CHECKED_TEXT.get(path) });
    }
  }
}

function catalog(shape: Record<string, z.ZodType>): ReadonlyMap<string, FieldSpec> {
  const fields = new Map<string, FieldSpec>();
  collect(shape, '', fields);
  return fields;
}

/** Every event field a mapping may target, keyed by dotted path, in payload order. */
export const EVENT_FIELDS = catalog(eventFieldsSchema.shape as Record<string, z.ZodType>);
/** Fields of one item in `custom_data.contents`. */
export const CONTENT_ITEM_FIELDS = catalog(contentItemSchema.shape as Record<string, z.ZodType>);

export const REQUIRED_EVENT_FIELDS = ['event_name', 'action_source', 'event_time', 'event_id'] as const;

type ItemFields = Record<string, string> | undefined;

/** The converter for one field, enums and contents included. */
export function fieldConverter(field: FieldSpec, itemFields?: ItemFields, literal = false): (value: unknown) => Converted<unknown> {
  if (field.kind === 'enum') {
    const values = field.values ?? [];
    // A literal's problem is read once, in the sync file: it lists every allowed value.
    const options = { aliases: field.aliases, list: literal };
    return (value) => toEnum(value, values, options);
  }
  if (field.kind === 'contents') return (value) => toContents(value, itemFields);
  return field.convert ?? SCALAR_CONVERTERS[field.kind];
}

const itemConverters = [...CONTENT_ITEM_FIELDS.values()].map((f) => [f.path, fieldConverter(f)] as const);

function toContents(value: unknown, rename: ItemFields): Converted<Record<string, unknown>[]> {
  const items = toObjectList(value);
  if (items === undefined || items instanceof Invalid) return items;
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < items.length; i++) {
    const source = items[i]!;
    const item: Record<string, unknown> = {};
    for (const [name, convert] of itemConverters) {
      const converted = convert(source[rename?.[name] ?? name]);
      if (converted instanceof Invalid) return new Invalid(`item ${i + 1} ${name}: ${converted.message}`);
      if (converted !== undefined) item[name] = converted;
    }
    if (Object.keys(item).length > 0) out.push(item);
  }
  return out.length > 0 ? out : undefined;
}
