// The catalog of mappable event fields, derived from the event schema so the two
// can never disagree.
import { z } from 'zod';
import {
  contentItemSchema, eventFieldsSchema, type FieldKind,
} from '../pinterest/event-schema.js';

export interface FieldSpec {
  /** Dotted path as written in a sync file, e.g. `custom_data.value`. */
  path: string;
  kind: FieldKind;
  /** Allowed values of an enum field. */
  values?: readonly string[];
}

function unwrap(schema: z.ZodType): z.ZodType {
  return schema instanceof z.ZodOptional ? (schema.unwrap() as z.ZodType) : schema;
}

function collect(shape: Record<string, z.ZodType>, prefix: string, into: Map<string, FieldSpec>): void {
  for (const [key, raw] of Object.entries(shape)) {
    const schema = unwrap(raw);
    const path = prefix + key;
    if (schema instanceof z.ZodEnum) {
      into.set(path, { path, kind: 'enum', values: schema.options as string[] });
    } else if (schema instanceof z.ZodObject) {
      collect(schema.shape as Record<string, z.ZodType>, `${path}.`, into);
    } else {
      const kind = (schema.meta() as { kind?: FieldKind } | undefined)?.kind;
      if (!kind) throw new Error(`event schema field ${path} has no kind`);
      into.set(path, { path, kind });
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
