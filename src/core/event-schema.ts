// pinsync's own schema of one conversion event, the object that stands in the
// request's `data` array (POST /ad_accounts/{id}/events). Written from Pinterest's
// API description (v5.23) and developer docs. It is the single catalog of event
// fields: the mapping engine derives each field's type from it (see `kind` meta),
// and tests check every emitted event against it.
import { z } from 'zod';

/** The 22 event names Pinterest documents for the Conversions API. */
export const EVENT_NAMES = [
  'add_payment_info', 'add_to_cart', 'add_to_wishlist', 'app_install', 'app_open',
  'checkout', 'contact', 'custom', 'customize_product', 'find_location',
  'initiate_checkout', 'lead', 'page_visit', 'schedule', 'search', 'signup',
  'start_trial', 'submit_application', 'subscribe', 'view_category', 'view_content',
  'watch_video',
] as const;

export const ACTION_SOURCES = ['app_android', 'app_ios', 'web', 'offline'] as const;

/** user_data keys whose values Pinterest wants as SHA-256 hex lists. */
export const HASHED_USER_KEYS = [
  'em', 'ph', 'ge', 'db', 'ln', 'fn', 'ct', 'st', 'zp', 'country', 'external_id', 'hashed_maids',
] as const;
/** user_data keys sent as plain strings, never hashed. */
export const PLAIN_USER_KEYS = ['client_ip_address', 'client_user_agent', 'click_id', 'partner_id'] as const;
export type HashedUserKey = (typeof HASHED_USER_KEYS)[number];
export type PlainUserKey = (typeof PLAIN_USER_KEYS)[number];
export type UserKey = HashedUserKey | PlainUserKey;
export const USER_KEYS: readonly UserKey[] = [...HASHED_USER_KEYS, ...PLAIN_USER_KEYS];

/** How the mapper converts a source value into a field. */
export type FieldKind =
  | 'string' | 'integer' | 'decimal' | 'boolean' | 'unix_seconds' | 'string_list' | 'enum' | 'contents';

const kind = <T extends z.ZodType>(schema: T, k: FieldKind): T => schema.meta({ kind: k });

// Pinterest parses these strings as doubles; pinsync always sends plain decimal notation.
const decimalString = kind(z.string().regex(/^-?\d+(\.\d+)?$/, 'a decimal number as a string'), 'decimal');
const int64 = kind(z.number().int(), 'integer');
const boundedInt = (max: number) => kind(z.number().int().min(0).max(max), 'integer');
const unixSeconds = kind(z.number().int().min(0), 'unix_seconds');
const text = (max?: number) => kind(max ? z.string().max(max) : z.string(), 'string');
const textList = kind(z.array(z.string()), 'string_list');
const sha256List = z.array(z.string().regex(/^[0-9a-f]{64}$/, 'lowercase SHA-256 hex')).min(1);

export const contentItemSchema = z.strictObject({
  id: text().optional(),
  item_price: decimalString.optional(),
  quantity: int64.optional(),
  item_name: text().optional(),
  item_category: text().optional(),
  item_brand: text().optional(),
});

export const customDataSchema = z.strictObject({
  currency: text().optional(),
  value: decimalString.optional(),
  content_ids: textList.optional(),
  content_name: text().optional(),
  content_category: text().optional(),
  content_brand: text().optional(),
  contents: kind(z.array(contentItemSchema), 'contents').optional(),
  num_items: int64.optional(),
  order_id: text().optional(),
  search_string: text().optional(),
  opt_out_type: text().optional(),
  predicted_ltv: decimalString.optional(),
  np: text().optional(),
  external_measurement_id: text().optional(),
  external_measurement_vendor_id: int64.optional(),
});

export const appInfoSchema = z.strictObject({
  app_id: text(200).optional(),
  app_name: text(200).optional(),
  app_package_name: text(200).optional(),
  app_store: text(100).optional(),
  app_version: text(100).optional(),
  install_time: unixSeconds.optional(),
  user_agent: text(16384).optional(),
  window_height: boundedInt(30720).optional(),
  window_width: boundedInt(30720).optional(),
});

export const deviceInfoSchema = z.strictObject({
  battery_level: boundedInt(100).optional(),
  brand: text(100).optional(),
  carrier: text(100).optional(),
  cpu_cores: boundedInt(1152).optional(),
  external_storage_free_space: boundedInt(1048576).optional(),
  external_storage_size: boundedInt(1048576).optional(),
  form_factor: z
    .enum(['desktop', 'laptop', 'cellphone', 'tablet', 'smartwatch', 'tv', 'vr', 'console', 'other'])
    .optional(),
  kernel_version: text(100).optional(),
  languages: kind(z.array(z.string()).max(100), 'string_list').optional(),
  locale: text(35).optional(),
  model: text(100).optional(),
  network_type: z
    .enum(['wifi', 'cellular_2g', 'cellular_3g', 'cellular_4g', 'cellular_5g', 'cellular_6g', 'ethernet', 'unknown'])
    .optional(),
  os_family: z.enum(['ios', 'android', 'macos', 'windows', 'linux', 'bsd', 'other']).optional(),
  os_name: text(100).optional(),
  os_release_name: text(100).optional(),
  os_version: text(100).optional(),
  screen_density: boundedInt(100000).optional(),
  screen_height: boundedInt(30720).optional(),
  screen_width: boundedInt(30720).optional(),
  storage_free_space: boundedInt(1048576).optional(),
  storage_size: boundedInt(1048576).optional(),
  timezone: text(40).optional(),
  timezone_abbr: text(5).optional(),
  type: text(100).optional(),
});

export const userDataSchema = z
  .strictObject({
    ...Object.fromEntries(HASHED_USER_KEYS.map((k) => [k, sha256List.optional()])),
    client_ip_address: z.string().min(1).optional(),
    client_user_agent: z.string().min(1).optional(),
    click_id: z.string().min(1).optional(),
    partner_id: z.string().min(1).optional(),
  })
  .refine(
    (u: Record<string, unknown>) =>
      u.em !== undefined || u.hashed_maids !== undefined ||
      (u.client_ip_address !== undefined && u.client_user_agent !== undefined),
    'user_data needs em, hashed_maids, or client_ip_address with client_user_agent',
  );

/** Fields of an event other than user_data, in the order pinsync writes them. */
export const eventFieldsSchema = z.strictObject({
  event_name: z.enum(EVENT_NAMES),
  action_source: z.enum(ACTION_SOURCES),
  event_time: unixSeconds,
  event_id: kind(z.string().min(1), 'string'),
  event_source_url: text().optional(),
  opt_out: kind(z.boolean(), 'boolean').optional(),
  partner_name: text().optional(),
  app_id: text().optional(),
  app_name: text().optional(),
  app_version: text().optional(),
  device_brand: text().optional(),
  device_carrier: text().optional(),
  device_model: text().optional(),
  device_type: text().optional(),
  os_version: text().optional(),
  wifi: kind(z.boolean(), 'boolean').optional(),
  language: text().optional(),
  custom_data: customDataSchema.optional(),
  app_info: appInfoSchema.optional(),
  device_info: deviceInfoSchema.optional(),
});

export const conversionEventSchema = eventFieldsSchema.extend({ user_data: userDataSchema });
export type ConversionEvent = z.infer<typeof conversionEventSchema>;
